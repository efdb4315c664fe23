"""torch.nn.utils: gradient clipping, flattening parameters, packing sequences (rnn), weight_norm /
spectral_norm and parametrizations."""

from . import parametrizations, parametrize, rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm
