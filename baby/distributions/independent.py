"""Independent: some of a distribution's batch dims read as event dims (log_prob summed over them)."""

from .distribution import Distribution, sum_rightmost


class Independent(Distribution):
    """`base_distribution` with its last `reinterpreted_batch_ndims` batch dims made event dims."""

    arg_constraints = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n, shape = reinterpreted_batch_ndims, base_distribution.batch_shape + base_distribution.event_shape
        if n > len(base_distribution.batch_shape):
            raise ValueError(
                f"Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), actual "
                f"{n} vs {len(base_distribution.batch_shape)}"
            )
        event_dim = n + len(base_distribution.event_shape)
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        super().__init__(shape[: len(shape) - event_dim], shape[len(shape) - event_dim :], validate_args)

    has_rsample = property(lambda self: self.base_dist.has_rsample, doc="As the base distribution.")
    has_enumerate_support = property(lambda self: False, doc="False.")
    mean = property(lambda self: self.base_dist.mean, doc="The base distribution's mean.")
    mode = property(lambda self: self.base_dist.mode, doc="The base distribution's mode.")
    variance = property(lambda self: self.base_dist.variance, doc="The base distribution's variance.")

    @property
    def support(self):
        """The base support, with the reinterpreted dims as event dims."""
        from .constraints import independent

        return independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    def sample(self, sample_shape=()):
        """The base distribution's draws."""
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        """The base distribution's reparameterised draws."""
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        """The base log_prob summed over the reinterpreted dims."""
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        """The base entropy summed over the reinterpreted dims."""
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
