"""nn.utils.rnn against PyTorch: pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence,
unpack_sequence, unpad_sequence, PackedSequence's fields; gradients through packing; PyTorch's errors."""

import numpy as np
import pytest
import torch

import baby

TR, BR = torch.nn.utils.rnn, baby.nn.utils.rnn


def seqs(lib, lengths, requires_grad=False):
    """Sequences (L_i, 2) of float64 with fixed values."""
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal((n, 2)), requires_grad=requires_grad) for n in lengths]


def same(ours, theirs):
    """Equal values (None, tensors, or tuples of them), ints compared exactly."""
    if theirs is None:
        assert ours is None
    elif isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            same(a, b)
    else:
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[-1].replace("long", "int64") == \
            str(theirs.dtype).split(".")[-1].replace("long", "int64")
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("lengths", [[4, 2, 3], [1], [3, 3, 1, 3]])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value,padding_side", [(0.0, "right"), (-1.5, "left")])
def test_pad_sequence(lengths, batch_first, padding_value, padding_side):
    same(BR.pad_sequence(seqs(baby, lengths), batch_first, padding_value, padding_side),
         TR.pad_sequence(seqs(torch, lengths), batch_first, padding_value, padding_side))


@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 3, 1], True), ([4, 4, 2], True), ([2, 4, 1], False),
                                                    ([3, 1, 3, 2], False), ([1, 1], False)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_unpack(lengths, enforce_sorted, batch_first):
    results = []
    for lib, R in ((torch, TR), (baby, BR)):
        xs = seqs(lib, lengths, requires_grad=True)
        padded = R.pad_sequence(xs, batch_first=batch_first)
        p = R.pack_padded_sequence(padded, lib.tensor(lengths), batch_first, enforce_sorted)
        q = R.pack_sequence(xs, enforce_sorted=enforce_sorted)
        out, n = R.pad_packed_sequence(p, batch_first, padding_value=7.0, total_length=max(lengths) + 1)
        (out * lib.arange(out.numel(), dtype=lib.float64).reshape(out.shape)).sum().backward()
        results.append((tuple(p), tuple(q), out, n, [x.grad for x in xs], R.unpack_sequence(p),
                        R.unpad_sequence(out.clone(), n, batch_first)))  # (PyTorch transposes in place)
    same(results[1], results[0])


def test_packed_sequence_fields_and_methods():
    p = BR.pack_sequence(seqs(baby, [2, 3]), enforce_sorted=False)
    assert p._fields == TR.PackedSequence._fields
    assert p.unsorted_indices.tolist() == [1, 0]
    assert p.float().data.dtype == np.float32 and p.double().data.dtype == np.float64
    assert p.cpu() is p and not p.is_cuda and not p.is_pinned()
    q = BR.PackedSequence(p.data, p.batch_sizes, p.sorted_indices)
    assert q.unsorted_indices.tolist() == [1, 0]


def error_of(fn):
    with pytest.raises(Exception) as e:
        fn()
    return e.value


@pytest.mark.parametrize("call", [
    lambda R, lib: R.pack_padded_sequence(lib.zeros(5, 3, 2), [2, 4, 1]),
    lambda R, lib: R.pack_padded_sequence(lib.zeros(5, 3, 2), [5, 4, 0]),
    lambda R, lib: R.pack_padded_sequence(lib.zeros(5, 3, 2), [5, 4]),
    lambda R, lib: R.pack_padded_sequence(lib.zeros(5, 3, 2), lib.tensor([[5, 4, 1]])),
    lambda R, lib: R.pad_packed_sequence(R.pack_sequence([lib.zeros(4, 1), lib.zeros(2, 1)]), total_length=2),
    lambda R, lib: R.pad_sequence([lib.zeros(2, 1)], padding_side="middle"),
], ids=["unsorted", "zero-length", "lengths-count", "lengths-2d", "total-length", "padding-side"])
def test_errors_as_pytorch(call):
    theirs, ours = error_of(lambda: call(TR, torch)), error_of(lambda: call(BR, baby))
    assert type(ours) is type(theirs)
    assert str(ours).replace(" Long", "") == str(theirs).replace(" Long", "")


def test_errors_of_our_own():
    with pytest.raises(RuntimeError, match=r"length of 6 exceeds the padded length 5 of input \(5, 3, 2\)"):
        BR.pack_padded_sequence(baby.zeros(5, 3, 2), [6, 4, 1])
    with pytest.raises(RuntimeError, match=r"trailing shape \(3,\) of the first, got \(3, 4\)"):
        BR.pad_sequence([baby.zeros(2, 3), baby.zeros(3, 4)])
