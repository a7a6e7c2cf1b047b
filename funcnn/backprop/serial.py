"""Backpropagation through a serial composition: the delta recursion over blocks.

For ``f = f_K o ... o f_1`` with ``z_0 = x`` and ``z_k = f_k(z_{k-1})``, the chain rule run
from the output back is

    dz_K = dL/dz_K                                   (from the loss)
    (dL/dtheta_k, dz_{k-1}) = backward_k(cache_k, dz_k),   k = K, ..., 1

each block's backward handing ``dx`` to the block before it. For a dense network this *is*
the lecture's recursion: the activation's backward multiplies by ``sigma'_j`` (giving
``delta_j``), the dense block's backward makes ``dL/dW_j = delta_j z_{j-1}^T`` and hands down
``W_j^T delta_j`` (see :mod:`funcnn.backprop.mlp` for that form, one line per equation).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax.numpy as jnp

from funcnn.backprop.registry import backward, forward, register
from funcnn.blocks import Serial

Array = jnp.ndarray


class SerialCache(NamedTuple):
    """One cache per block, in the order of the blocks."""

    caches: tuple


def serial_forward(model: Serial, params, x: Array, key=None) -> tuple[Array, SerialCache]:
    """The forward pass of ``model`` keeping every block's cache; its output equals
    ``model.apply(params, x, key=key, train=key is not None)``."""
    model.check_params(params)
    model.check_input(x)
    out, caches = model.run(forward, params, x, key)
    return out, SerialCache(caches)


def serial_backward(model: Serial, params, cache: SerialCache, dout: Array) -> tuple[list, Array]:
    """The blocks' backwards in reverse order; returns ``(grads, dx)`` with ``grads`` shaped
    like ``params`` (one entry per block with parameters)."""
    if len(cache.caches) != len(model.blocks):
        raise ValueError(
            f"cache must hold one entry per block ({len(model.blocks)}); "
            f"got {len(cache.caches)}. Pass the cache of serial_forward on this model."
        )
    batch = dout.shape[0]
    chex.assert_shape(dout, (batch, *model.output_shape))
    steps = list(model.walk(params))
    grads = []
    dz = dout  # dL/dz_K
    for k in reversed(range(len(steps))):
        block, p, _ = steps[k]
        g, dz = backward(block, p, cache.caches[k], dz)  # dz becomes dL/dz_{k-1}
        chex.assert_shape(dz, (batch, *model.shapes[k]))
        if block.has_params:
            grads.append(g)
    grads.reverse()
    return grads, dz


def _forward(model: Serial, params, x, key):
    return serial_forward(model, params, x, key)


def _backward(model: Serial, params, cache, dout):
    return serial_backward(model, params, cache, dout)


register(Serial, _forward, _backward)
