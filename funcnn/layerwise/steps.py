"""Step sizes ``alpha_j^(k)`` and the lecture's updates (u.1) and (u.2) on a list of
per-layer blocks (see :mod:`funcnn.layerwise`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from funcnn import checks

Array = jnp.ndarray
# A step size alpha_j^(k): a number, or a schedule ``k -> alpha`` (any optax schedule).
StepSize = float | Callable[[Array], Array]
# Step sizes of every block: one StepSize for all, one per block, or an array () or (L,).
Alpha = StepSize | Sequence[StepSize] | Array


# --- step sizes alpha_j^(k) ------------------------------------------------------------------


def _check_step(value, name: str):
    """A scalar step size ``>= 0``: range-checked when concrete, accepted when traced."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number >= 0; got {value!r}.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        value = float(value)
    elif not hasattr(value, "shape") or np.shape(value) != ():
        raise TypeError(f"{name} must be a scalar step size; got {value!r:.60}.")
    if checks.is_concrete(value):
        v = float(value)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {v!r}.")
    return jnp.asarray(value)


def step_sizes(alpha: Alpha, n_layers: int, k=0) -> Array:
    """The step sizes ``alpha_j^(k)`` of the ``n_layers`` blocks at update ``k``, shape ``(L,)``.

    Args:
        alpha: one of

            * a number: ``alpha_j^(k) = alpha`` (the lecture's constant step ``c``);
            * a schedule ``k -> alpha`` (a function or an optax schedule): the same for every
              layer, e.g. ``lambda k: 0.1 / (k + 1)`` for the lecture's ``1/k`` decay;
            * a sequence of ``n_layers`` numbers or schedules: one per layer (a function of
              ``(j, k)`` is ``[functools.partial(f, j) for j in range(n_layers)]``);
            * an array of shape ``()`` or ``(n_layers,)`` (for a vmapped grid of step sizes).

        n_layers: the number of blocks L.
        k: the update count, from 0 (as optax counts); may be a traced integer.

    Returns:
        ``(L,)`` array; ``[j]`` is the step size of ``params[j]``.
    """
    n_layers = checks.check_positive_int(n_layers, "n_layers")
    if hasattr(alpha, "shape") and not callable(alpha):
        if np.shape(alpha) not in ((), (n_layers,)):
            raise ValueError(
                f"alpha as an array must have shape () or (n_layers,) = ({n_layers},); got "
                f"{np.shape(alpha)}."
            )
        if np.shape(alpha) == ():
            return jnp.full((n_layers,), _check_step(alpha, "alpha"))
        alpha = list(alpha)
    if isinstance(alpha, (list, tuple)):
        if len(alpha) != n_layers:
            raise ValueError(
                f"alpha must give one step size or schedule per layer ({n_layers}); got "
                f"{len(alpha)}. Pass one number or schedule to use it for every layer."
            )
        per_layer = alpha
    elif callable(alpha) or isinstance(alpha, (int, float, np.integer, np.floating)):
        per_layer = [alpha] * n_layers
    else:
        raise TypeError(
            "alpha must be a number, a schedule k -> alpha, or a sequence of them (one per "
            f"layer); got {type(alpha).__name__}."
        )
    out = []
    for j, a in enumerate(per_layer):
        name = f"alpha for params[{j}]" + (" at step k" if callable(a) else "")
        out.append(_check_step(a(k) if callable(a) else a, name))
    return jnp.stack(out).astype(jnp.result_type(float))


# --- the updates (u.1) and (u.2) -------------------------------------------------------------


def _check_blocks(params, grads) -> None:
    if not isinstance(params, (list, tuple)):
        raise TypeError(
            f"params must be a list with one entry per layer (block); got {type(params).__name__}."
        )
    if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
        n = len(grads) if isinstance(grads, (list, tuple)) else type(grads).__name__
        raise ValueError(
            f"grads must be a list with one entry per block, like params ({len(params)}); got {n}."
        )
    for j, (p, g) in enumerate(zip(params, grads)):
        if jax.tree.structure(p) != jax.tree.structure(g) or any(
            np.shape(a) != np.shape(b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(g))
        ):
            raise ValueError(
                f"grads[{j}] must have the structure and shapes of params[{j}]; got "
                f"{jax.tree.map(np.shape, g)} for {jax.tree.map(np.shape, p)}."
            )


def block_indices(blocks, n_layers: int) -> tuple[int, ...]:
    """``blocks`` (None: all, an int, or a sequence of ints) as a tuple of valid indices."""
    if blocks is None:
        return tuple(range(n_layers))
    checks.check_static(blocks, "blocks", fix="pass Python ints")
    seq = [blocks] if not isinstance(blocks, (list, tuple, range)) else list(blocks)
    out = []
    for j in seq:
        checks.check_static(j, "a block index", fix="pass Python ints")
        j = checks.check_int(j, "a block index")
        if not 0 <= j < n_layers:
            raise ValueError(
                f"block index {j} is out of range: params has {n_layers} blocks, indices "
                f"0..{n_layers - 1} (0 is the lecture's W_1)."
            )
        out.append(j)
    return tuple(out)


def block_updates(grads, alpha: Alpha, *, k=0, blocks=None) -> list:
    """The increments ``-alpha_j^(k) grads[j]`` of the chosen blocks, zeros for the others.

    The update of (u.2) as an optax-style ``updates`` tree (apply it with
    ``optax.apply_updates(params, updates)``), for a training loop that owns its parameters.

    Args:
        grads: a list (or tuple) with one gradient pytree per block (layer).
        alpha: step sizes, see :func:`step_sizes`.
        k: the update count, passed to schedules.
        blocks: ``None`` (all), one block index, or a sequence of them (static ints;
            ``grads[j]`` belongs to the lecture's ``W_{j+1}``).

    Returns:
        a list shaped like ``grads``.
    """
    if not isinstance(grads, (list, tuple)):
        raise TypeError(
            f"grads must be a list with one entry per layer (block); got {type(grads).__name__}."
        )
    which = block_indices(blocks, len(grads))
    alphas = step_sizes(alpha, len(grads), k)  # (L,): alpha_j^(k)
    return [
        jax.tree.map(lambda d, a=alphas[j]: -a.astype(d.dtype) * d, g)  # -alpha_j^(k) D_j^(k)
        if j in which
        else jax.tree.map(jnp.zeros_like, g)
        for j, g in enumerate(grads)
    ]


def update_blocks(params, grads, alpha: Alpha, *, k=0, blocks=None):
    """``params[j] - alpha_j^(k) grads[j]`` for the chosen blocks; the others unchanged.

    With ``blocks=None`` (every block) this is (u.1) when every block's gradient was taken at
    ``params``, with the per-layer step sizes of (u.2); with one block it is one step of
    block coordinate descent. It is the update only: the gradients come from any
    ``value_and_grad`` (``funcnn.backprop.value_and_grad(model, loss)``, ``jax.grad``).

    Args:
        params: a list (or tuple) of blocks, one per layer; each any pytree of arrays.
        grads: the same structure.
        alpha, k, blocks: as for :func:`block_updates`.

    Returns:
        the new params, the same container type.
    """
    _check_blocks(params, grads)
    which = block_indices(blocks, len(params))
    increments = block_updates(grads, alpha, k=k, blocks=which)
    new = [
        jax.tree.map(jnp.add, p, d) if j in which else p  # W_j + (-alpha_j^(k) D_j^(k))  (u.2)
        for j, (p, d) in enumerate(zip(params, increments))
    ]
    return type(params)(new)


def check_grad_fn(grad_fn) -> None:
    if not callable(grad_fn):
        raise TypeError(
            "grad_fn must be a function params -> grads (e.g. lambda p: "
            f"value_and_grad(model, loss)(p, x, y)[1]); got {type(grad_fn).__name__}."
        )


def simultaneous_step(grad_fn: Callable, params, alpha: Alpha, *, k=0):
    """(u.1): every block moves along its gradient taken at the same point ``params``.

    ``grad_fn(params) -> grads`` (same structure as params); ``alpha``: see
    :func:`step_sizes` (one number is plain gradient descent).
    """
    check_grad_fn(grad_fn)
    return update_blocks(params, grad_fn(params), alpha, k=k)


def layerwise_sweep(
    grad_fn: Callable, params, alpha: Alpha, *, k=0, order: Sequence[int] | None = None
):
    """(u.2) as block coordinate descent: one gradient step per block, the blocks in turn.

    Block ``order[i]``'s gradient is taken after blocks ``order[:i]`` moved, so a sweep costs
    ``L`` gradient evaluations and differs from :func:`simultaneous_step` at second order in
    the step size.

    Args:
        grad_fn: ``params -> grads``.
        params: a list of blocks.
        alpha: step sizes, see :func:`step_sizes`.
        k: the sweep count, passed to schedules.
        order: the block indices in the order they are updated (default ``0, ..., L - 1``,
            input layer first); static.
    """
    check_grad_fn(grad_fn)
    order = block_indices(range(len(params)) if order is None else order, len(params))
    for j in order:
        params = update_blocks(params, grad_fn(params), alpha, k=k, blocks=j)
    return params
