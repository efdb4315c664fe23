"""DataParallel as PyTorch's behaves without GPUs: one device, so it calls the wrapped module."""

from ..module import Module


class DataParallel(Module):
    """Wrap `module` as `self.module` (state-dict keys 'module.*', as PyTorch's); forward calls it. As
    PyTorch's on a machine without GPUs, `device_ids` end up empty and the other arguments are unused."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module, self.device_ids = module, []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
