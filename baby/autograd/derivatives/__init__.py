"""The derivative rules: each op's backward written with baby's ops on Tensors, registered by op class for
the backward that records itself (create_graph=True, baby/autograd/higher.py)."""

from . import elementwise, fused, linear, structured  # noqa: F401  (each module registers its rules)
