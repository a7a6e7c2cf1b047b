"""Backward of the poolings, written by hand: how each pooling routes delta back.

For a window of ``w`` positions with stride ``s`` (one spatial axis written),

* max pooling, ``y[l] = max_t x[l s + t]``: ``dL/dx[l s + t] += delta[l]`` only for the tap
  ``t`` that held the maximum (the first one on a tie, as ``jax.grad`` routes it); every other
  input of the window gets nothing from that window;
* average pooling, ``y[l] = (1/w) sum_t x[l s + t]``: every input of the window gets
  ``delta[l] / w``;
* global average pooling over ``n`` positions: every position gets ``delta / n``.

Overlapping windows (stride < window) add their contributions. Each tap's contribution is put
back in place with ``lax.pad`` (interior padding ``s - 1`` spreads it by the stride).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from funcnn.backprop.registry import register
from funcnn.blocks.pool import AvgPool, GlobalAvgPool, MaxPool

Array = jnp.ndarray


class PoolCache(NamedTuple):
    x: Array  # (B, *spatial, c): the input
    y: Array  # (B, *spatial_out, c): the output (the maxima, for max pooling)


def window_taps(block) -> list[tuple]:
    return list(itertools.product(*(range(w) for w in block.window)))


def tap_view(x: Array, block, tap: tuple, out_spatial: tuple) -> Array:
    """``x[:, l s + t, :]`` for every output position ``l``: ``(B, *out_spatial, c)``."""
    starts = [0, *tap, 0]
    limits = [x.shape[0]] + [t + s * (n - 1) + 1 for t, s, n in zip(tap, block.stride, out_spatial)]
    return jax.lax.slice(x, starts, [*limits, x.shape[-1]], [1, *block.stride, 1])


def put_back(values: Array, block, tap: tuple, in_spatial: tuple) -> Array:
    """The inverse of :func:`tap_view`: ``values`` at positions ``l s + t``, zeros elsewhere."""
    config = [(0, 0, 0)]
    for t, s, n, m in zip(tap, block.stride, in_spatial, values.shape[1:-1]):
        config.append((t, n - (t + s * (m - 1) + 1), s - 1))
    config.append((0, 0, 0))
    return jax.lax.pad(values, jnp.zeros((), values.dtype), config)


def pool_forward(block, params, x: Array, key=None) -> tuple[Array, PoolCache]:
    y = block.apply(params, x)
    return y, PoolCache(x, y)


def max_pool_backward(block: MaxPool, params, cache: PoolCache, delta: Array):
    """Route ``delta`` to the first maximum of each window."""
    chex.assert_equal_shape([delta, cache.y])
    in_spatial, out_spatial = cache.x.shape[1:-1], cache.y.shape[1:-1]
    dx = jnp.zeros_like(cache.x)
    taken = jnp.zeros(cache.y.shape, bool)  # a window's maximum already routed
    for tap in window_taps(block):
        is_max = (tap_view(cache.x, block, tap, out_spatial) == cache.y) & ~taken
        taken = taken | is_max
        dx = dx + put_back(jnp.where(is_max, delta, 0.0), block, tap, in_spatial)
    return (), dx


def avg_pool_backward(block: AvgPool, params, cache: PoolCache, delta: Array):
    """Spread ``delta / w`` over every input of each window."""
    chex.assert_equal_shape([delta, cache.y])
    share = delta / math.prod(block.window)
    dx = jnp.zeros_like(cache.x)
    for tap in window_taps(block):
        dx = dx + put_back(share, block, tap, cache.x.shape[1:-1])
    return (), dx


def global_avg_pool_backward(block: GlobalAvgPool, params, cache: PoolCache, delta: Array):
    """Every position gets ``delta / n``."""
    chex.assert_equal_shape([delta, cache.y])
    spatial = cache.x.shape[1:-1]
    share = delta / math.prod(spatial)  # (B, c)
    return (), jnp.broadcast_to(
        share.reshape((share.shape[0],) + (1,) * len(spatial) + (-1,)), cache.x.shape
    )


register(MaxPool, pool_forward, max_pool_backward)
register(AvgPool, pool_forward, avg_pool_backward)
register(GlobalAvgPool, pool_forward, global_avg_pool_backward)
