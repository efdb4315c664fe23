"""Parameters to one flat vector and back, as torch.nn.utils."""

from ...ops import cat


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-d tensor (differentiable)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d `vec` into the parameters, in place."""
    if vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-d vector, got shape {tuple(vec.shape)}")
    start = 0
    for p in parameters:
        n = p.numel()
        p._data[...] = vec._data[start:start + n].reshape(p.shape)
        start += n
