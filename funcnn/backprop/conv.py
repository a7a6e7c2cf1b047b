"""Backward of the convolution, written by hand (1-D and 2-D, channels-last).

Forward (:class:`funcnn.blocks.Conv`), one spatial axis written, ``x_pad`` the padded input:

    a[b, l, o] = sum_{t, c} x_pad[b, l s + t d, c] w[t, c, o] + bias[o]

Given ``delta = dL/da`` of shape ``(B, L_out, c_out)``, the chain rule gives three lines:

    dL/dw[t, c, o] = sum_{b, l} x_pad[b, l s + t d, c] delta[b, l, o]
        the correlation of the input with delta: for each tap t, the input seen at that tap
        (a strided slice) times delta, summed over examples and positions — the lecture's
        dL/dW_j = delta_j z_{j-1}^T with the sum running over the positions that share w;
    dL/dbias[o] = sum_{b, l} delta[b, l, o];
    dL/dx_pad[b, i, c] = sum_{l, t: l s + t d = i} sum_o delta[b, l, o] w[t, c, o]
        the transposed convolution: delta spread back by the stride (``lhs_dilation = s``)
        and convolved with the kernel flipped in space and transposed in channels — the
        lecture's W_j^T delta_j for the circulant (or Toeplitz) W_j.

Then ``dL/dx`` is ``dL/dx_pad`` without the padding: zero padding's rows are cut away; the
wrapped rows of circular padding are added back onto the positions they copied.

The weight gradient is computed tap by tap as matrix products, not as a convolution: XLA's
CPU backend runs the weight-gradient convolution that autodiff emits ~50x slower inside a
``lax.scan`` body than outside it (jax-ml/jax#12868); the tap form has no such cliff, which is
why a scanned CNN epoch trains faster with the hand-written gradient
(``benchmarks/bench_manual_vs_autodiff.py``).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.backprop.registry import register
from funcnn.blocks.conv import Conv

Array = jnp.ndarray


class ConvCache(NamedTuple):
    """What the convolution's backward needs."""

    x_pad: Array  # (B, *spatial_pad, c_in): the padded input
    in_spatial: tuple  # the unpadded spatial shape of x


def conv_forward(block: Conv, params, x: Array, key=None) -> tuple[Array, ConvCache]:
    """``a = conv(x_pad, w) + bias``: the block's own forward (``conv_general_dilated``)."""
    block.check_params(params)
    checks.check_rank(x, block.n_spatial + 2, "x", f"(batch, *spatial, {block.in_channels})")
    x_pad = block.pad(x)
    a = block.apply(params, x)
    return a, ConvCache(x_pad, tuple(x.shape[1:-1]))


def tap_window(x_pad: Array, block: Conv, tap: tuple, out_spatial: tuple) -> Array:
    """The input each output position sees at kernel tap ``t``: ``x_pad[:, l s + t d, :]`` for
    every output position ``l`` (a strided slice, ``(B, *out_spatial, c_in)``)."""
    starts = [0] + [t * d for t, d in zip(tap, block.dilation)] + [0]
    limits = (
        [x_pad.shape[0]]
        + [st + s * (n - 1) + 1 for st, s, n in zip(starts[1:-1], block.stride, out_spatial)]
        + [x_pad.shape[-1]]
    )
    return jax.lax.slice(x_pad, starts, limits, [1, *block.stride, 1])


def conv_weight_grad(block: Conv, x_pad: Array, delta: Array) -> Array:
    """``dL/dw[t] = sum_{b, l} x_pad[b, l s + t d]^T delta[b, l]`` for every tap ``t``."""
    out_spatial = tuple(delta.shape[1:-1])
    d2 = delta.reshape(-1, block.out_channels)  # (B * L_out, c_out)
    taps = []
    for tap in itertools.product(*(range(k) for k in block.kernel_size)):
        window = tap_window(x_pad, block, tap, out_spatial).reshape(-1, block.in_channels)
        taps.append(window.T @ d2)  # (c_in, c_out): the correlation at this tap
    return jnp.stack(taps).reshape((*block.kernel_size, block.in_channels, block.out_channels))


def conv_input_grad(block: Conv, w: Array, delta: Array, pad_spatial: tuple) -> Array:
    """``dL/dx_pad``: the transposed convolution of delta with the flipped, transposed kernel."""
    spatial = tuple(range(block.n_spatial))
    w_t = jnp.flip(w, axis=spatial).swapaxes(-1, -2)  # (*k, c_out, c_in)
    padding = []
    for i, (k, d, s) in enumerate(zip(block.kernel_size, block.dilation, block.stride)):
        span = d * (k - 1)
        covered = (delta.shape[1 + i] - 1) * s + span + 1  # x_pad rows the forward read
        padding.append((span, span + pad_spatial[i] - covered))
    return jax.lax.conv_general_dilated(
        delta,
        w_t,
        window_strides=(1,) * block.n_spatial,
        padding=padding,
        lhs_dilation=block.stride,
        rhs_dilation=block.dilation,
        dimension_numbers=block.dimension_numbers,
    )


def unpad(block: Conv, dx_pad: Array, in_spatial: tuple) -> Array:
    """``dL/dx`` from ``dL/dx_pad``: cut zero padding away; fold circular padding back."""
    dx = dx_pad
    for i, n in enumerate(in_spatial):
        axis = 1 + i
        lo, hi = block.pads(i)
        core = jax.lax.slice_in_dim(dx, lo, lo + n, axis=axis)
        if block.padding == "circular":  # x_pad = [x[n - lo:], x, x[:hi]] along this axis
            left = jax.lax.slice_in_dim(dx, 0, lo, axis=axis)
            right = jax.lax.slice_in_dim(dx, lo + n, lo + n + hi, axis=axis)
            widths = [(0, 0)] * dx.ndim
            widths[axis] = (n - lo, 0)
            core = core + jnp.pad(left, widths)
            widths[axis] = (0, n - hi)
            core = core + jnp.pad(right, widths)
        dx = core
    return dx


def conv_backward(block: Conv, params, cache: ConvCache, delta: Array) -> tuple[dict, Array]:
    """``({"w": dL/dw, "b": dL/dbias}, dL/dx)`` for ``delta = dL/da`` (module docstring)."""
    x_pad = cache.x_pad
    batch = x_pad.shape[0]
    out_spatial = tuple(block.out_length(n, i) for i, n in enumerate(cache.in_spatial))
    checks.check_rank(delta, block.n_spatial + 2, "delta", "(batch, *spatial_out, c_out)")
    chex.assert_shape(delta, (batch, *out_spatial, block.out_channels))
    dw = conv_weight_grad(block, x_pad, delta)  # correlation of the input with delta
    db = jnp.sum(delta, axis=tuple(range(delta.ndim - 1)))  # (c_out,)
    dx_pad = conv_input_grad(block, params["w"], delta, tuple(x_pad.shape[1:-1]))  # W^T delta
    dx = unpad(block, dx_pad, cache.in_spatial)
    chex.assert_equal_shape([dw, params["w"]])
    chex.assert_shape(dx, (batch, *cache.in_spatial, block.in_channels))
    return {"w": dw, "b": db}, dx


register(Conv, conv_forward, conv_backward)
