"""The LRScheduler base and the argument checks the schedules share (see lr_scheduler.py)."""

import copy
import numbers

from .optimizer import Optimizer


def _int(owner, name, value, low):
    """`value` as an int >= low; ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _per_group(owner, name, value, optimizer):
    """`value` repeated for every param group, or a list/tuple with one value per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: {name} must have one value per param group ({n}), got {len(value)}")
        return list(value)
    return [value] * n


def _check_optimizer(owner, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: optimizer must be an Optimizer, got {type(optimizer).__name__}")


class LRScheduler:
    """Base class: `step()` advances `last_epoch` and sets each group's lr to `get_lr()`."""

    _is_initial = False  # True during the step the constructor takes
    _not_state = ("optimizer",)  # attributes state_dict() leaves out

    def __init__(self, optimizer, last_epoch=-1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(f"{name}: last_epoch={last_epoch} needs 'initial_lr' in "
                                     f"param_groups[{i}] (set by a scheduler created with last_epoch=-1, "
                                     "or a loaded state)")
        self.optimizer, self.last_epoch = optimizer, last_epoch
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self._initial_step()

    def _initial_step(self):
        """The constructor's step: epoch last_epoch + 1, at the groups' current lrs for chainable rules."""
        self._step_count, self._is_initial = 0, True
        try:
            self.step()
        finally:
            del self._is_initial

    def get_lr(self):
        """The lrs for the epoch `last_epoch` has just become (one per group); each schedule defines it."""
        raise TypeError(f"{type(self).__name__} does not define get_lr")

    def step(self, epoch=None):
        """Advance one epoch (or jump to `epoch`, by the closed form where there is one) and set the lrs."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            lrs = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def _lrs(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates the last `step()` set, one per group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer, as a copy."""
        return copy.deepcopy({k: v for k, v in vars(self).items() if k not in self._not_state})

    def load_state_dict(self, state_dict):
        """Restore what `state_dict()` returned, and set the groups' lrs to its last lrs (PyTorch leaves
        them to the optimizer's own load_state_dict; here a scheduler restored alone carries on too)."""
        groups, lrs = self.optimizer.param_groups, state_dict.get("_last_lr")
        if lrs is not None and len(lrs) != len(groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state has lrs for {len(lrs)} param "
                             f"groups, the optimizer has {len(groups)}")
        self.__dict__.update(copy.deepcopy(state_dict))
        for group, lr in zip(groups, lrs or [g["lr"] for g in groups], strict=True):
            group["lr"] = lr


_LRScheduler = LRScheduler  # PyTorch's older name
