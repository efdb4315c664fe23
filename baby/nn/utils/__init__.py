"""torch.nn.utils: gradient clipping, flattening parameters into one vector, packing sequences (rnn)."""

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
