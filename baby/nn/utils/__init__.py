"""torch.nn.utils: gradient clipping and flattening parameters into one vector."""

from . import parametrizations, parametrize  # noqa: E402
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: E402
from .weight_norm import remove_weight_norm, weight_norm  # noqa: E402
