"""torch.nn.utils.rnn: padding and packing batches of sequences of different lengths.

A PackedSequence holds the steps of a batch sorted by decreasing length, time-major and without padding:
`data` (N, *) has the `batch_sizes[t]` rows of step t one after another. Packing and unpacking are one
row gather each (index_select), so gradients flow through both.
"""

from collections import namedtuple

from ... import ops
from ...backend import xp
from ...tensor import Tensor, _wrap


def _int64(a):
    return _wrap(xp.asarray(a, dtype=xp.int64))


def invert_permutation(permutation):
    """The inverse of an index permutation (None stays None)."""
    if permutation is None:
        return None
    p = permutation._data
    inv = xp.empty_like(p)
    inv[p] = xp.arange(p.size)
    return _int64(inv)


_Fields = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_Fields):
    """A packed batch: data (N, *), batch_sizes (T,) int64, sorted_indices and unsorted_indices (B,) or
    None (the batch was given sorted)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # (data, batch_sizes) given as one pair, as PyTorch accepts
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """The same packing with data converted by Tensor.to (indices stay int64)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes, self.sorted_indices,
                                                         self.unsorted_indices)

    def cpu(self):
        """Itself: baby's tensors live on the CPU."""
        return self

    def double(self):
        """The data as float64."""
        return self.to(dtype=xp.float64)

    def float(self):
        """The data as float32."""
        return self.to(dtype=xp.float32)

    is_cuda = property(lambda self: False, doc="False: baby runs on the CPU.")

    def is_pinned(self):
        """False: baby has no pinned memory."""
        return False


def _lengths(lengths):
    """lengths as an int64 array, with PyTorch's error for a tensor that is not 1-D."""
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D "
                               "cpu tensor")
        return lengths._data.astype(xp.int64)
    return xp.asarray(list(lengths), dtype=xp.int64).reshape(-1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with batch_first) of sequences of the given lengths."""
    n = _lengths(lengths)
    T, B = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    if n.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {n.size} "
                           f"(batch_size={B})")
    if enforce_sorted:
        if (n[1:] > n[:-1]).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                               "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                               "pack_sequence to sidestep this requirement if you do not need ONNX "
                               "exportability.")
        order, sorted_indices = xp.arange(B), None
    else:
        order = xp.argsort(-n, kind="stable")
        sorted_indices = _int64(order)
    n = n[order]
    if B and n[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in "
                           "'lengths' that is <= 0")
    if B and n[0] > T:
        raise RuntimeError(f"pack_padded_sequence: a length of {n[0]} exceeds the padded length {T} of input "
                           f"{tuple(input.shape)}")
    bs = (n[None, :] > xp.arange(n[0] if B else 0)[:, None]).sum(axis=1)  # (T',): sequences still running
    t, k = xp.nonzero(xp.arange(B)[None, :] < bs[:, None])  # packed rows, time-major: step t, sorted k
    b = order[k]
    rows = b * T + t if batch_first else t * B + b  # their rows in input.reshape(-1, *)
    data = input.reshape(T * B, *input.shape[2:]).index_select(0, _int64(rows))  # (N, *)
    return PackedSequence(data, _int64(bs), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack to (padded (T, B, *) or (B, T, *), lengths (B,) int64), the batch in its original order."""
    data, bs = sequence.data, sequence.batch_sizes._data
    T, B, N = len(bs), int(bs[0]), data.shape[0]
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being {T}")
        T = total_length
    bs = xp.concatenate([bs, xp.zeros(T - len(bs), xp.int64)])  # (T,)
    u = xp.arange(B) if sequence.unsorted_indices is None else sequence.unsorted_indices._data
    off = xp.concatenate([[0], xp.cumsum(bs)[:-1]])  # (T,): where each step's rows start
    src = xp.where(u[None, :] < bs[:, None], off[:, None] + u[None, :], N)  # (T, B); N: the padding row
    src = src.T if batch_first else src  # (B, T)
    pad = data.new_full((1, *data.shape[1:]), padding_value)
    padded = ops.cat([data, pad]).index_select(0, _int64(src.reshape(-1)))  # (T * B, *)
    lengths = (xp.arange(B)[None, :] < bs[:, None]).sum(axis=0)[u]  # (B,) in the original order
    return padded.reshape(*src.shape, *data.shape[1:]), _int64(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences (L_i, *) into (T, B, *) (or (B, T, *)), padding each to the longest T."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    tail = tuple(sequences[0].shape[1:])
    for s in sequences:
        if tuple(s.shape[1:]) != tail:
            raise RuntimeError(f"pad_sequence: every sequence needs the trailing shape {tail} of the first, "
                               f"got {tuple(s.shape)}")
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        fill = s.new_full((T - s.shape[0], *tail), padding_value)  # (T - L, *)
        rows.append(ops.cat([s, fill] if padding_side == "right" else [fill, s]))
    return ops.stack(rows, dim=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *), longest first unless enforce_sorted=False."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (L_i, *) in a padded batch."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)  # (B, T, *)
    return [x[b, :int(n)] for b, n in enumerate(_lengths(lengths))]


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) in a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
