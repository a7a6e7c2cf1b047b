"""Which hand-written forward and backward belong to which block.

Every block type of :mod:`funcnn.blocks` (and every model built from them) registers a pair

* ``forward(block, params, x, key) -> (out, cache)``: the block's output, exactly as
  ``block.apply(params, x, key=key, train=key is not None)`` computes it, and what its
  backward needs;
* ``backward(block, params, cache, dout) -> (param_grads, dx)``: the gradients of its
  parameters (``()`` for a block without any) and of its input, given ``dout = dL/dout``.

:func:`forward` and :func:`backward` look the pair up by the block's type (the most derived
registered class wins) and check, statically and for free under ``jit``, that the shapes
they return are the block's: the output of its declared ``out_shape``, gradients shaped like
the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import chex
import jax.numpy as jnp

Array = jnp.ndarray


class BlockPair(NamedTuple):
    """The hand-written forward and backward of one block type."""

    forward: Callable  # (block, params, x, key) -> (out, cache)
    backward: Callable  # (block, params, cache, dout) -> (param_grads, dx)


_PAIRS: dict[type, BlockPair] = {}


def register(block_type: type, forward: Callable, backward: Callable) -> None:
    """Make ``forward``/``backward`` the hand-written pair of ``block_type`` (see the module
    docstring for their signatures)."""
    if not isinstance(block_type, type):
        raise TypeError(f"block_type must be a class; got {block_type!r}.")
    _PAIRS[block_type] = BlockPair(forward, backward)


def pair(block) -> BlockPair:
    """The registered pair of ``block``'s type (or of its nearest registered base class)."""
    for cls in type(block).__mro__:
        if cls in _PAIRS:
            return _PAIRS[cls]
    known = ", ".join(sorted(c.__name__ for c in _PAIRS))
    raise TypeError(
        f"no hand-written backprop is registered for {type(block).__name__}; register one "
        f"with funcnn.backprop.register({type(block).__name__}, forward, backward). "
        f"Registered: {known}."
    )


def registered() -> tuple[type, ...]:
    """The block types that have a hand-written pair."""
    return tuple(_PAIRS)


def forward(block, params, x: Array, key=None) -> tuple[Array, object]:
    """``(out, cache)`` of ``block`` on the batch ``x``; random blocks draw from ``key``
    (``None``: the evaluation pass)."""
    out, cache = pair(block).forward(block, params, x, key)
    chex.assert_shape(out, (x.shape[0], *block.out_shape(x.shape[1:])))
    return out, cache


def backward(block, params, cache, dout: Array) -> tuple[object, Array]:
    """``(param_grads, dx)`` of ``block`` for the cotangent ``dout`` of its output."""
    grads, dx = pair(block).backward(block, params, cache, dout)
    if block.has_params:
        chex.assert_trees_all_equal_shapes(grads, params)
    chex.assert_equal_shape_prefix([dx, dout], 1)  # the same batch
    return grads, dx
