import torch
from helpers import check, finite_difference

import baby


def test_add_broadcast():
    check(lambda a, b: a + b, lambda a, b: a + b, [(3, 1), (4,)])


def test_flip_fd():
    finite_difference(lambda a: baby.ops.flip(a, (0,)) * a, (3, 2))


def test_matmul_vec():
    check(lambda a, b: a @ b, torch.matmul, [(3,), (2, 3, 4)])
