"""The training loop: one epoch with a progress bar (images/s, loss), evaluation, and `fit` over epochs."""

import time
from collections import namedtuple

from tqdm import tqdm

from .tensor import no_grad

Metrics = namedtuple("Metrics", ["loss", "accuracy"])


def _images(loader):
    """How many samples one pass over `loader` yields."""
    return min(len(loader) * loader.batch_size, len(loader.dataset))


def train_epoch(model, loader, optimizer, loss_fn, progress=True, desc="train"):
    """Train `model` for one pass over `loader`; returns the mean loss per sample.

    The tqdm bar (on stderr, only when it is a terminal and `progress` is true) shows images/s and the
    running loss.
    """
    model.train()
    total, seen = 0.0, 0
    with tqdm(total=_images(loader), desc=desc, unit="img", unit_scale=True, leave=False,
              disable=None if progress else True) as bar:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
            bar.update(len(y))
            bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
    return total / max(seen, 1)


def evaluate(model, loader, loss_fn=None):
    """Mean loss (None without `loss_fn`) and top-1 accuracy of `model` over `loader`, in eval mode."""
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with no_grad():
        for x, y in loader:
            logits = model(x)
            if loss_fn is not None:
                total += loss_fn(logits, y).item() * len(y)
            correct += int((logits.data.argmax(axis=1) == y.data).sum())
            seen += len(y)
    seen = max(seen, 1)
    return Metrics(total / seen if loss_fn is not None else None, correct / seen)


def fit(model, train_loader, test_loader, optimizer, loss_fn, epochs, scheduler=None, progress=True,
        log=print):
    """Train for `epochs`, evaluating after each; logs one line per epoch and returns their records."""
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(model, train_loader, optimizer, loss_fn, progress, desc=f"epoch {epoch}/{epochs}")
        seconds = time.perf_counter() - start
        if scheduler is not None:
            scheduler.step()
        test = evaluate(model, test_loader, loss_fn)
        history.append(dict(epoch=epoch, loss=loss, test_loss=test.loss, accuracy=test.accuracy,
                            images_per_s=_images(train_loader) / seconds))
        log(f"epoch {epoch}/{epochs}  loss {loss:.4f}  test loss {test.loss:.4f}  "
            f"accuracy {test.accuracy:.4f}  ({history[-1]['images_per_s']:.0f} img/s)")
    return history
