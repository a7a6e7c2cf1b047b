"""(u.1) and (u.2) with an optax optimizer's direction: per-layer step-size multipliers, one
optimizer state per block, and block coordinate descent with it (see :mod:`funcnn.layerwise`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from funcnn.layerwise.steps import block_indices, check_grad_fn, step_sizes

# --- (u.1) and (u.2) with an optimizer's direction -------------------------------------------


def check_multipliers(multipliers, name: str = "multipliers") -> tuple[float, ...]:
    """One finite number ``c_j >= 0`` per block, as a tuple of floats (not yet checked against
    a model: :func:`scale_by_layer` and :func:`by_block` compare the length with params)."""
    if isinstance(multipliers, (str, bytes)) or not isinstance(multipliers, Sequence):
        raise TypeError(
            f"{name} must be a sequence of numbers, one per entry of the model's params list "
            f"(e.g. (1.0, 0.5, 0.1)); got {type(multipliers).__name__} {multipliers!r:.60}."
        )
    if not multipliers:
        raise ValueError(f"{name} must not be empty: give one number per entry of params.")
    out = []
    for j, c in enumerate(multipliers):
        if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name}[{j}] must be a number; got {type(c).__name__} {c!r:.40}.")
        if not (np.isfinite(c) and c >= 0):
            raise ValueError(f"{name}[{j}] must be a finite number >= 0; got {float(c)!r}.")
        out.append(float(c))
    return tuple(out)


def _check_slots(params, n: int | None, name: str) -> None:
    """``params`` is a list of blocks (the model's params list, one entry per layer), ``n`` of
    them unless ``n`` is None."""
    if not isinstance(params, (list, tuple)):
        raise TypeError(
            f"{name} needs params as a list with one entry per layer (block); got "
            f"{type(params).__name__}."
        )
    if n is not None and len(params) != n:
        raise ValueError(
            f"{name} has {n} entries but the model's params list has {len(params)} "
            f"(params[0] .. params[{len(params) - 1}], one per layer): give one per entry."
        )


def scale_by_layer(multipliers, *, name: str = "multipliers") -> optax.GradientTransformation:
    r"""Per-layer step sizes of (u.2): block ``j``'s update times ``c_j``.

    Placed last in a chain whose update is :math:`-\eta_k D^{(k)}` (every optax optimizer),

    .. math::

        W_j^{(k+1)} = W_j^{(k)} - \alpha_j^{(k)} D_j^{(k)}, \qquad
        \alpha_j^{(k)} = c_j\, \eta_k

    (:func:`step_sizes` of the multipliers). ``c_j = 1`` leaves a block's update exactly as
    it was (a product by 1 is exact); ``c_j = 0`` freezes the block.

    Args:
        multipliers: one number ``c_j >= 0`` per entry of the params list.
        name: how errors call ``multipliers`` (``funcnn.train``: "layer_lr").

    Returns:
        A stateless ``optax.GradientTransformation``; ``init`` and ``update`` raise
        ``ValueError`` naming ``name`` unless params are a list of ``len(multipliers)``.
    """
    multipliers = check_multipliers(multipliers, name)
    n = len(multipliers)

    def init(params):
        _check_slots(params, n, name)
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        _check_slots(updates, n, name)
        alphas = step_sizes(multipliers, n)  # (L,): c_j
        scaled = [
            jax.tree.map(lambda u, a=alphas[j]: u * a.astype(u.dtype), block)
            for j, block in enumerate(updates)
        ]
        return type(updates)(scaled), state

    return optax.GradientTransformation(init, update)


class BlockwiseState(NamedTuple):
    """State of :func:`by_block`."""

    blocks: tuple  # one state of the wrapped optimizer per block: its state on params[j]


class BlockwiseTransformation(optax.GradientTransformationExtraArgs):
    """The transformation :func:`by_block` returns: ``update`` takes ``block=``."""


def by_block(
    optimizer: optax.GradientTransformation, multipliers=None, *, name: str = "multipliers"
) -> BlockwiseTransformation:
    r"""``optimizer`` run on every block (layer) apart: the :math:`D_j^{(k)}` of (u.2).

    The state holds one state of ``optimizer`` per block, initialized on ``params[j]``, so
    block ``j``'s direction :math:`D_j^{(k)}` (its moments, its accumulators, its count
    ``k``) comes from block ``j``'s gradients alone, and a transformation that looks at the
    whole tree (``optax.clip_by_global_norm``) sees one block.

    ``update(grads, state, params, block=None)``:

    * ``block=None``: every block at the same point, (u.1) with per-block states;
    * ``block=j``: block ``j`` only, :math:`W_j \leftarrow W_j - \alpha_j^{(k)} D_j^{(k)}`;
      the other blocks get zero updates and keep their states (one step of block
      coordinate descent, :func:`optimizer_sweep`).

    Args:
        optimizer: any optax ``GradientTransformation`` (with its learning rate).
        multipliers: None, or one number ``c_j >= 0`` per block:
            :math:`\alpha_j^{(k)} = c_j \eta_k` as in :func:`scale_by_layer`.
        name: how errors call ``multipliers``.

    Returns:
        A :class:`BlockwiseTransformation` (an ``optax.GradientTransformationExtraArgs``)
        whose state is a :class:`BlockwiseState`.
    """
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation; got {type(optimizer).__name__}."
        )
    scale = None if multipliers is None else scale_by_layer(multipliers, name=name)
    n_expected = None if multipliers is None else len(multipliers)

    def n_blocks(params):
        _check_slots(params, n_expected, name if scale is not None else "by_block")
        return len(params)

    def init(params):
        n_blocks(params)
        if scale is not None:
            scale.init(params)
        return BlockwiseState(blocks=tuple(optimizer.init(p) for p in params))

    def update(updates, state, params=None, *, block=None, **extra_args):
        del extra_args
        n = n_blocks(updates)
        which = block_indices(block, n)
        blocks, states = [], list(state.blocks)
        for j, g in enumerate(updates):
            if j in which:
                u, states[j] = optimizer.update(g, states[j], None if params is None else params[j])
            else:
                u = jax.tree.map(jnp.zeros_like, g)
            blocks.append(u)
        new = type(updates)(blocks)
        if scale is not None:
            new, _ = scale.update(new, optax.EmptyState())
        return new, BlockwiseState(blocks=tuple(states))

    return BlockwiseTransformation(init, update)


def optimizer_sweep(grad_fn: Callable, params, optimizer, state, *, grads=None, order=None):
    """(u.2) as block coordinate descent with an optimizer: one step of block ``j`` at a time.

    For ``j`` in ``order``: the gradient at the current params (``grad_fn(params)``, after
    the blocks before ``j`` moved), then ``params[j] <- params[j] + u_j`` with ``u_j`` the
    update of ``optimizer.update(grads, state, params, block=j)`` (:func:`by_block`). With
    ``by_block(optax.sgd(alpha))`` this is :func:`layerwise_sweep` with step size ``alpha``.

    Args:
        grad_fn: ``params -> grads``.
        params: a list of blocks.
        optimizer: a :class:`BlockwiseTransformation` (:func:`by_block`).
        state: its state.
        grads: the gradient at ``params`` if already computed (it is the first block's).
        order: block indices in update order (default ``0, ..., L - 1``: input layer first,
            as :func:`layerwise_sweep`); static.

    Returns:
        ``(params, state)`` after one sweep.
    """
    check_grad_fn(grad_fn)
    if not isinstance(optimizer, BlockwiseTransformation):
        raise TypeError(
            "optimizer_sweep updates one block at a time and needs one optimizer state per "
            "block: pass funcnn.layerwise.by_block(optimizer); got "
            f"{type(optimizer).__name__}."
        )
    order = block_indices(range(len(params)) if order is None else order, len(params))
    for i, j in enumerate(order):
        g = grads if (i == 0 and grads is not None) else grad_fn(params)
        updates, state = optimizer.update(g, state, params, block=j)
        new = list(params)
        new[j] = optax.apply_updates(params[j], updates[j])  # W_j - alpha_j^(k) D_j^(k)  (u.2)
        params = type(params)(new)
    return params, state
