"""Keeping a model's kinked activations off their kinks, so finite differences mean something.

ReLU, leaky ReLU and the step have a kink (or a jump) at 0: a central difference whose step
straddles it measures neither one-sided derivative. For every kinked activation that follows
a block with a bias per output feature (a dense or convolutional layer), :func:`move_off_kinks`
shifts that bias so that every pre-activation of the given batch is at least ``margin`` away
from 0. It works on any serial composition (a dense network through ``model.serial``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.blocks import Act

#: Activations with a kink or a step at 0, where finite differences are meaningless.
KINKED_ACTIVATIONS = ("relu", "leaky_relu", "heaviside")


def safe_shift(a, margin: float):
    """Per feature k (the last axis), the smallest shift s on the grid 2 margin * {0, 1, -1,
    2, -2, ...} with min |a[..., k] + s| >= margin. Each value rules out at most one grid point
    (the open interval of width 2 margin around -a), so 2R + 1 candidates always leave one
    (R: the number of values per feature)."""
    a = a.reshape(-1, a.shape[-1])  # (R, n): every value of feature k is a row
    R = a.shape[0]
    steps = np.array([0] + [s * i for i in range(1, R + 2) for s in (1, -1)], np.float64)
    cand = jnp.asarray(2.0 * margin * steps, a.dtype)  # (C,)
    ok = jnp.all(jnp.abs(a[:, None, :] + cand[None, :, None]) >= margin, axis=0)  # (C, n)
    return cand[jnp.argmax(ok, axis=0)]  # first admissible candidate per feature


def composition(model):
    """The :class:`funcnn.blocks.Serial` of ``model`` (itself, or a dense network's)."""
    net = getattr(model, "serial", model)
    if not hasattr(net, "walk"):
        raise TypeError(
            f"model must be a funcnn model built from blocks (funcnn.mlp, funcnn.serial, ...); "
            f"got {type(model).__name__}."
        )
    return net


def leaf_blocks(net, params, key=None, path=()):
    """``(block, its key, the path of its params or None)`` for every block of ``net`` in
    order, with the blocks of a nested composition (or of a nested dense network's
    ``serial``) in place of the composition, so that a kink inside it is seen too."""
    slot = -1
    for block, p, k in net.walk(params, key):
        where = None
        if block.has_params:
            slot += 1
            where = (*path, slot)
        inner = getattr(block, "serial", block)
        if hasattr(inner, "walk"):
            yield from leaf_blocks(inner, p, k, () if where is None else where)
        else:
            yield block, k, where


def _at(tree, path):
    for i in path:
        tree = tree[i]
    return tree


def kink_pass(model, params, x, *, key=None, margin: float | None = None):
    """One forward pass; at every kinked activation that follows a biased block, the smallest
    |pre-activation| seen, and (with ``margin``) the bias shifted off the kink. Returns
    ``(params, smallest distance)``."""
    net = composition(model)
    net.check_params(params)
    net.check_input(x)
    new = jax.tree_util.tree_map(lambda a: a, params)  # new containers: updated in place below
    best = jnp.asarray(jnp.inf, x.dtype)
    biased, z = None, x
    for block, k, where in leaf_blocks(net, params, key):
        if isinstance(block, Act) and block.name in KINKED_ACTIVATIONS and biased is not None:
            best = jnp.minimum(best, jnp.min(jnp.abs(z)))  # z is the pre-activation a
            if margin is not None:
                shift = safe_shift(z, margin)
                layer = _at(new, biased)
                layer["b"] = layer["b"] + shift
                z = z + shift.reshape((1,) * (z.ndim - 1) + (-1,))
        p = () if where is None else _at(new, where)
        biased = where if isinstance(p, dict) and "b" in p else None
        z = block.apply(p, z, key=k, train=k is not None)
    return new, best


def move_off_kinks(model, params, x, *, key=None, margin: float = 1e-3):
    """Shift the biases of the layers feeding a ReLU / leaky-ReLU / step so that every
    pre-activation is at least ``margin`` away from the kink at 0, for this ``x`` (and key
    of the random blocks).

    Block by block (a shift changes what later blocks see): for each unit whose
    pre-activations come within ``margin`` of 0 on some example, the bias moves by the
    smallest multiple of ``2 margin`` that clears all of them. Finite differences with a step
    far below ``margin`` then never straddle a kink, and the convention at the kink
    (ReLU'(0) = 0) never decides a comparison. Pure and traceable (jit it, or call it inside
    a jitted check). Returns new params; weights and the other biases are unchanged.
    """
    if not margin > 0:
        raise ValueError(f"margin must be positive; got {margin!r}.")
    return kink_pass(model, params, x, key=key, margin=margin)[0]


def min_kink_distance(model, params, x, *, key=None):
    """The smallest |a| over every pre-activation of a ReLU / leaky-ReLU / step that follows a
    biased layer, a scalar array (inf if the model has none). Traceable."""
    return kink_pass(model, params, x, key=key)[1]
