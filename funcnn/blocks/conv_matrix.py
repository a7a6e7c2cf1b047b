"""The lecture's claim made executable: a convolutional layer is a dense layer whose ``W_j`` is
circulant (seed 003) — or Toeplitz, when the input is padded with zeros instead of wrapped.

:func:`conv_matrix` writes out the explicit matrix ``W`` of a :class:`funcnn.blocks.Conv`
with given weights, in the notes' column layout: for one example flattened position-major
(``z[l * c_in + c] = x[l, c]``),

    conv(x).flatten() = W @ x.flatten() + bias_vector,    W[(l, o), (j, c)] = sum_t w[t, c, o] [j = l s + t d - lo]

with ``j`` taken modulo the length for circular padding (so every row of a one-channel,
stride-1 ``W`` is the row above rolled by one: a circulant matrix) and dropped where it falls
into zero padding (a banded Toeplitz matrix). :func:`param_counts` sets the layer's
``prod(k) c_in c_out + c_out`` parameters beside the ``n_out n_in + n_out`` of the dense layer
with that ``W``: the weight sharing that makes convolutions cheap.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from funcnn.blocks.conv import Conv


def conv_matrix(block: Conv, params, in_spatial) -> tuple[np.ndarray, np.ndarray]:
    """``(W, bias_vector)`` of ``block`` on examples of spatial size ``in_spatial``, float64.

    ``W`` has shape ``(prod(out_spatial) c_out, prod(in_spatial) c_in)`` and ``bias_vector``
    ``(prod(out_spatial) c_out,)``, both in the position-major flattening of channels-last
    examples (``x.reshape(-1)``).
    """
    if not isinstance(block, Conv):
        raise TypeError(f"block must be a funcnn.blocks.Conv; got {type(block).__name__}.")
    in_spatial = (in_spatial,) if isinstance(in_spatial, int) else tuple(in_spatial)
    out_spatial = block.out_shape((*in_spatial, block.in_channels))[:-1]
    block.check_params(params)
    w = np.asarray(params["w"], np.float64)  # (*k, c_in, c_out)
    c_in, c_out = block.in_channels, block.out_channels
    W = np.zeros((math.prod(out_spatial) * c_out, math.prod(in_spatial) * c_in))
    circular = block.padding == "circular"
    for out_pos in itertools.product(*(range(n) for n in out_spatial)):
        row = np.ravel_multi_index(out_pos, out_spatial) * c_out
        for tap in itertools.product(*(range(k) for k in block.kernel_size)):
            j = [
                p * s + t * d - block.pads(i)[0]
                for i, (p, t, s, d) in enumerate(zip(out_pos, tap, block.stride, block.dilation))
            ]
            if circular:
                j = [ji % n for ji, n in zip(j, in_spatial)]
            elif any(not 0 <= ji < n for ji, n in zip(j, in_spatial)):
                continue  # this tap reads a padded zero
            col = np.ravel_multi_index(tuple(j), in_spatial) * c_in
            W[row : row + c_out, col : col + c_in] += w[tap].T  # (c_out, c_in)
    bias = np.tile(np.asarray(params["b"], np.float64), math.prod(out_spatial))
    return W, bias


def is_circulant(W: np.ndarray) -> bool:
    """Whether every row of the square ``W`` is the row above rolled right by one."""
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        return False
    return all(np.array_equal(W[i], np.roll(W[0], i)) for i in range(W.shape[0]))


def is_toeplitz(W: np.ndarray) -> bool:
    """Whether ``W[i, j]`` depends on ``j - i`` only (constant along every diagonal)."""
    W = np.asarray(W)
    return all(np.array_equal(W[i, 1:], W[i - 1, :-1]) for i in range(1, W.shape[0]))


def param_counts(block: Conv, in_spatial) -> dict[str, int]:
    """``{"conv": prod(k) c_in c_out + c_out, "dense": n_out n_in + n_out}`` for the layer on
    examples of spatial size ``in_spatial`` and the dense layer with the same ``W``."""
    in_spatial = (in_spatial,) if isinstance(in_spatial, int) else tuple(in_spatial)
    out = block.out_shape((*in_spatial, block.in_channels))
    n_in = math.prod(in_spatial) * block.in_channels
    n_out = math.prod(out)
    conv = math.prod(block.kernel_size) * block.in_channels * block.out_channels
    return {"conv": conv + block.out_channels, "dense": n_out * n_in + n_out}
