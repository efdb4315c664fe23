"""The book's Trainer: fit(epochs) and evaluate(loader) over baby's own training and evaluation passes."""

import numpy as np

from .tensor import Tensor
from .train import evaluate, train_epoch


class _Batches:
    """A loader whose batches are (x, y) pairs or objects with .x and .y, as (Tensor, Tensor) pairs."""

    def __init__(self, loader):
        self.loader = loader
        self.batch_size = getattr(loader, "batch_size", 1)
        self.dataset = getattr(loader, "dataset", range(len(loader) * self.batch_size))

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            x, y = batch if isinstance(batch, (tuple, list)) else (batch.x, batch.y)
            yield _tensor(x), _tensor(y)


def _tensor(v):
    """Batch data as a Tensor (integer labels as int64, other arrays as float32)."""
    if isinstance(v, Tensor):
        return v
    a = np.asarray(v)
    return Tensor(a, dtype=np.int64 if a.dtype.kind in "iub" else np.float32)


class Trainer:
    """Train `model` with `optimizer` on `loss_fn` over `train_loader`; check `val_loader` each epoch."""

    def __init__(self, model, optimizer, loss_fn, train_loader, val_loader=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader, self.val_loader = train_loader, val_loader
        self.history = []

    def fit(self, epochs):
        """Run `epochs` passes over the training data; returns one {"loss", "accuracy", "val_accuracy"} per
        epoch."""
        for epoch in range(1, epochs + 1):
            m = train_epoch(self.model, _Batches(self.train_loader), self.optimizer, self.loss_fn, epoch,
                            progress=False)
            record = {"epoch": epoch, "loss": m.loss, "accuracy": m.accuracy}
            if self.val_loader is not None:
                record["val_accuracy"] = self.evaluate()
                self.model.train()
            self.history.append(record)
        return self.history

    def evaluate(self, loader=None):
        """Top-1 accuracy of the model on `loader` (the validation loader by default; 0.0 without one)."""
        loader = self.val_loader if loader is None else loader
        return 0.0 if loader is None else evaluate(self.model, _Batches(loader)).accuracy
