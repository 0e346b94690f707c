"""Order-preserving integer keys for floats, with a label packed into the low bits.

Sorting one unsigned integer per (unit, sample) is much faster than an argsort: the sort needs no
index array, and SIMD sorts (NumPy's x86-simd-sort) apply to plain integers. A float is mapped to an
unsigned integer whose order is the float order (flip all bits of negatives, set the sign bit of
positives); ``-0.0`` is first turned into ``+0.0`` so that the two zeros form one tie, as they do for
scikit-learn. The sample's label code sits in the low ``lbits`` bits, so after the sort the labels
come out in score order with no gather, and two neighbours are tied exactly when their keys agree
above bit ``lbits``.

Only float16 and float32 are keyed (16 + lbits or 32 + lbits bits must fit in 64). Other inputs go
through :func:`sorted_by_argsort`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_UINT = {16: np.uint16, 32: np.uint32}
_INT = {16: np.int16, 32: np.int32}
_TILE = 256


@dataclass
class SortedBlock:
    """A block of units, each unit's responses sorted ascending.

    ``labels[u, j]`` is the label code of the sample at ascending position ``j`` of unit ``u``;
    ``new_run[u, j]`` (for ``j >= 1``) is True when position ``j`` holds a larger value than
    ``j - 1``. :meth:`values_at` returns float64 response values at given positions.
    """

    labels: np.ndarray
    new_run: np.ndarray
    _keys: np.ndarray | None = None
    _values: np.ndarray | None = None
    _lbits: int = 0
    _vbits: int = 32

    def values_at(self, cols: np.ndarray) -> np.ndarray:
        """Values at positions ``cols`` (shape (units, c)) of each unit's sorted responses."""
        if self._values is not None:
            return np.take_along_axis(self._values, cols, axis=1).astype(np.float64)
        assert self._keys is not None
        k = np.take_along_axis(self._keys, cols, axis=1) >> self._lbits
        return decode(k, self._vbits)


def label_bits(n_labels: int) -> int:
    """Bits needed for label codes ``0 .. n_labels-1`` (at least 1)."""
    return max(1, int(n_labels - 1).bit_length())


def label_dtype(lbits: int) -> type:
    return np.uint8 if lbits <= 8 else np.uint16 if lbits <= 16 else np.uint32


def can_key(dtype: np.dtype, lbits: int) -> bool:
    return dtype in (np.dtype(np.float16), np.dtype(np.float32)) and dtype.itemsize * 8 + lbits <= 64


def transpose(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``x.T``, copied in row tiles (several times faster than a plain
    strided copy for the tall blocks ranking reads)."""
    out = np.empty((x.shape[1], x.shape[0]), dtype=x.dtype)
    for r in range(0, x.shape[0], _TILE):
        out[:, r:r + _TILE] = x[r:r + _TILE].T
    return out


def encode(xt: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Order-preserving unsigned keys of a float16/float32 array (same shape, same width).

    With ``inplace`` the array's memory is reused for the keys (its values are destroyed).
    """
    vbits = xt.dtype.itemsize * 8
    ut, it = _UINT[vbits], _INT[vbits]
    sign = ut(1 << (vbits - 1))
    bits = xt.view(ut) if inplace else xt.copy().view(ut)
    np.copyto(bits, ut(0), where=bits == sign)  # -0.0 -> +0.0: the zeros are one tie
    mask = (bits.view(it) >> it(vbits - 1)).view(ut)  # all ones for negatives, zero otherwise
    mask |= sign
    bits ^= mask
    return bits


def decode(keys: np.ndarray, vbits: int) -> np.ndarray:
    """Inverse of :func:`encode` for keys already shifted right by the label bits; float64 out."""
    ut = _UINT[vbits]
    k = keys.astype(ut)
    sign = ut(1 << (vbits - 1))
    bits = np.where(k & sign, k ^ sign, ~k)
    ft = np.float16 if vbits == 16 else np.float32
    return bits.view(ft).astype(np.float64)


def _nan_columns(first: np.ndarray, last: np.ndarray, vbits: int) -> np.ndarray:
    """Units whose smallest or largest key is a NaN (NaNs sort outside +-inf)."""
    ft = np.float16 if vbits == 16 else np.float32
    lo, hi = encode(np.array([-np.inf, np.inf], dtype=ft))
    return np.flatnonzero((first < lo) | (last > hi))


def sorted_by_keys(x: np.ndarray, codes: np.ndarray, lbits: int) -> tuple[SortedBlock, np.ndarray]:
    """Sort every column of ``x`` (samples, units) with packed keys.

    Returns the sorted block and the indices of units that contain NaN (empty if none).
    """
    vbits = x.dtype.itemsize * 8
    kt = np.uint32 if vbits + lbits <= 32 else np.uint64
    vkeys = encode(transpose(x), inplace=True)
    keys = np.left_shift(vkeys, kt(lbits), dtype=kt)
    del vkeys
    keys |= codes.astype(kt)[None, :]
    keys.sort(axis=1)
    shift = kt(lbits)
    nan_cols = _nan_columns(keys[:, 0] >> shift, keys[:, -1] >> shift, vbits)
    ldt = label_dtype(lbits)
    labels = keys.astype(ldt)  # integer casts keep the low bits
    if lbits < np.dtype(ldt).itemsize * 8:
        labels &= ldt((1 << lbits) - 1)
    new_run = np.ones(keys.shape, dtype=bool)
    np.greater_equal(keys[:, 1:] ^ keys[:, :-1], kt(1 << lbits), out=new_run[:, 1:])
    return SortedBlock(labels, new_run, _keys=keys, _lbits=lbits, _vbits=vbits), nan_cols


def sorted_by_argsort(x: np.ndarray, codes: np.ndarray, lbits: int) -> tuple[SortedBlock, np.ndarray]:
    """Fallback for dtypes that cannot be keyed (float64 with more than float32 precision)."""
    xt = np.ascontiguousarray(x.T, dtype=np.float64)
    nan_cols = np.flatnonzero(np.isnan(xt).any(axis=1))
    order = np.argsort(xt, axis=1)
    values = np.take_along_axis(xt, order, axis=1)
    labels = codes.astype(label_dtype(lbits))[order]
    new_run = np.ones(values.shape, dtype=bool)
    np.not_equal(values[:, 1:], values[:, :-1], out=new_run[:, 1:])
    return SortedBlock(labels, new_run, _values=values), nan_cols
