"""Optimizers and learning-rate schedules with PyTorch's names, defaults and values (torch.optim)."""

from . import lr_scheduler
from .adam import Adam, Adamax, AdamW, NAdam
from .lbfgs import LBFGS
from .lr_scheduler import CosineAnnealingLR, StepLR
from .optimizer import Optimizer
from .rms import Adadelta, Adagrad, RMSprop
from .sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "CosineAnnealingLR", "LBFGS", "lr_scheduler",
           "NAdam", "Optimizer", "RMSprop", "SGD", "StepLR"]
