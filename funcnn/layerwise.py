"""Layer-wise training (the lecture's (u.1) and (u.2), block coordinate descent) and the
non-convexity of a deep linear network's loss.

The lecture contrasts two forms of a gradient update. The optimization method updates every
weight at once along a descent direction taken at one point,

    w^(k+1) = w^(k) - alpha^(k) d^(k)                                            (u.1)

while its application to a network updates each layer with its own step size,

    W_j^(k+1) = W_j^(k) - alpha_j^(k) D_j^(k),   j = 1..J                          (u.2)

and "(u.1) and (u.2) correspond to non-equivalent optimization problems". Here a network's
parameters are a list with one block per layer (``params[j]``, the lecture's ``W_{j+1}``:
indices are 0-based), and

* :func:`step_sizes` resolves ``alpha_j^(k)``: one number, one schedule ``k -> alpha`` for
  every layer, or one number or schedule per layer;
* :func:`update_blocks` is one update ``params[j] - alpha_j^(k) grads[j]`` of the chosen
  blocks (all of them: (u.1) with per-layer step sizes; one: a block of (u.2)), and
  :func:`block_updates` the same increments as an optax-style updates tree;
* :func:`simultaneous_step` is (u.1): every block's gradient at the same point;
* :func:`layerwise_sweep` is (u.2) as block coordinate descent (BCD) with one gradient step
  per block: the blocks in turn, each gradient taken after the blocks before it moved.

The same two forms with any optax optimizer's direction ``D_j^(k)`` in place of the gradient
(what ``funcnn.train`` trains with, ``RunConfig(layer_lr=..., update=...)``):

* :func:`scale_by_layer` multiplies block ``j``'s update by ``c_j``, so a learning rate
  ``eta_k`` becomes ``alpha_j^(k) = c_j eta_k`` (``c_j = 0`` freezes the block);
* :func:`by_block` runs the optimizer on every block apart, one state per block, and
  :func:`optimizer_sweep` is (u.2) as BCD with it: one optimizer step per block, in turn.

For a **deep linear network** (:func:`funcnn.deep_linear`, identity activations) the lecture's
BCD ("optimize layer j while fixing the others ... suitable for deep linear networks") can
solve each block exactly: with the other layers fixed, the network is linear in ``W_j`` and
the squared loss is a convex quadratic in it. :func:`solve_block` solves it by least squares
(minimum-norm, so rank deficiency is handled), :func:`exact_bcd_sweep` sweeps the blocks.

The loss is **not jointly convex** (the lecture: "why? due to composition and coupling among
each layer. Simple two layer linear NN example"): ``W_j -> W_j S``, ``W_{j+1} -> S^-1
W_{j+1}`` leaves the network's map unchanged (:func:`equivalent_params`), so every minimizer
comes with a family of minimizers, and the segment between two of them leaves the minimum.
:func:`minimizer_pair` builds two global minimizers; for a sign flip ``S = -I`` their
midpoint has ``W_j = 0``, the map collapses to a constant and its loss is strictly higher.

Everything here is a pure function of arrays, jit-able with the block indices static.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from funcnn import checks
from funcnn.layers import append_ones
from funcnn.models import MLP

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


def _block_indices(blocks, n_layers: int) -> tuple[int, ...]:
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
    which = _block_indices(blocks, len(grads))
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
    which = _block_indices(blocks, len(params))
    increments = block_updates(grads, alpha, k=k, blocks=which)
    new = [
        jax.tree.map(jnp.add, p, d) if j in which else p  # W_j + (-alpha_j^(k) D_j^(k))  (u.2)
        for j, (p, d) in enumerate(zip(params, increments))
    ]
    return type(params)(new)


def _check_grad_fn(grad_fn) -> None:
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
    _check_grad_fn(grad_fn)
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
    _check_grad_fn(grad_fn)
    order = _block_indices(range(len(params)) if order is None else order, len(params))
    for j in order:
        params = update_blocks(params, grad_fn(params), alpha, k=k, blocks=j)
    return params


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
        which = _block_indices(block, n)
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
    _check_grad_fn(grad_fn)
    if not isinstance(optimizer, BlockwiseTransformation):
        raise TypeError(
            "optimizer_sweep updates one block at a time and needs one optimizer state per "
            "block: pass funcnn.layerwise.by_block(optimizer); got "
            f"{type(optimizer).__name__}."
        )
    order = _block_indices(range(len(params)) if order is None else order, len(params))
    for i, j in enumerate(order):
        g = grads if (i == 0 and grads is not None) else grad_fn(params)
        updates, state = optimizer.update(g, state, params, block=j)
        new = list(params)
        new[j] = optax.apply_updates(params[j], updates[j])  # W_j - alpha_j^(k) D_j^(k)  (u.2)
        params = type(params)(new)
    return params, state


# --- deep linear networks: exact block solves ------------------------------------------------


def check_deep_linear(model) -> MLP:
    """``model``, or an error unless it is a dense network with identity activations only."""
    if not isinstance(model, MLP):
        raise TypeError(
            "model must be a deep linear network, funcnn.deep_linear(sizes); got "
            f"{type(model).__name__}."
        )
    if any(a != "identity" for a in model.layer_activations) or model.uses_dropout:
        raise ValueError(
            "model must be a deep linear network (identity activations, no dropout: "
            f"funcnn.deep_linear(sizes)); got a {model.kind} with activations "
            f"{model.layer_activations} and dropout {model.dropout}. With a nonlinear activation "
            "a block's problem is not least squares."
        )
    return model


def _check_data(model: MLP, params, x, y) -> None:
    model.check_params(params)
    model.check_input(x)
    checks.check_rank(y, 2, "y", f"(batch, {model.sizes[-1]})")
    checks.check_same_batch(x, y, "x", "y")
    if y.shape[1] != model.sizes[-1]:
        raise ValueError(
            f"y must have shape (batch, n_L) = (batch, {model.sizes[-1]}); got {y.shape}."
        )


def end_to_end(model: MLP, params) -> tuple[Array, Array]:
    """A deep linear network's affine map ``f(x) = x @ P + c``: ``(P (n_0, n_L), c (n_L,))``.

    ``P = w_1 w_2 ... w_L`` in our layout (the notes' ``W_L ... W_1`` transposed).
    """
    check_deep_linear(model)
    model.check_params(params)
    p, c = params[0]["w"], params[0]["b"]
    for layer in params[1:]:
        p, c = p @ layer["w"], c @ layer["w"] + layer["b"]
    return p, c


def solve_block(model: MLP, params, j: int, x: Array, y: Array, *, rcond=None):
    """Exact BCD step: ``params[j]`` replaced by its least-squares optimum, the others fixed.

    With ``A = [z_{j-1}, 1]`` (the block's input with a column of ones, ``(N, n_{j-1} + 1)``),
    ``B`` the product of the later layers' weights (``(n_j, n_L)``) and ``c`` the later
    biases' contribution, the output is ``A W B + c`` with ``W = [w_j; b_j]``: linear in the
    block. Its squared loss ``||A W B + c - y||_F^2`` is minimized where the normal equations
    ``A^T A W B B^T = A^T (y - c) B^T`` hold; the minimum-norm solution is
    ``W = A^+ (y - c) B^+``, computed as two least-squares solves (``jnp.linalg.lstsq``:
    ``U = A^+ (y - c)``, then ``W = U B^+``). Singular values below ``rcond`` times the
    largest are treated as zero, so a rank-deficient ``A`` (a narrower layer before the block,
    fewer examples than inputs) or ``B`` (a narrower layer after it) still gives the
    minimum-norm minimizer.

    Args:
        model: a deep linear network (:func:`funcnn.deep_linear`).
        params: its parameters ``[{"w", "b"}]``.
        j: the block, an index into ``params`` (0 is the lecture's ``W_1``); static.
        x: ``(N, n_0)``; y: ``(N, n_L)``.
        rcond: cut-off of ``jnp.linalg.lstsq`` (default: machine epsilon times the larger
            dimension).

    Returns:
        the new params (the same container type); only ``params[j]`` differs.
    """
    check_deep_linear(model)
    _check_data(model, params, x, y)
    (j,) = _block_indices(j, len(params))
    z = x  # z_{j-1}: the block's input, (N, n_{j-1})
    for layer in params[:j]:
        z = z @ layer["w"] + layer["b"][None, :]
    a = append_ones(z)  # A = [z_{j-1}, 1], (N, n_{j-1} + 1)
    n_j = model.sizes[j + 1]
    b, c = jnp.eye(n_j, dtype=x.dtype), jnp.zeros((n_j,), x.dtype)  # B (n_j, n_L), c (n_L,)
    for layer in params[j + 1 :]:
        b, c = b @ layer["w"], c @ layer["w"] + layer["b"]
    target = y - c[None, :]  # (N, n_L): what A W B must fit
    u = jnp.linalg.lstsq(a, target, rcond=rcond)[0]  # U = A^+ (y - c), (n_{j-1} + 1, n_L)
    w = jnp.linalg.lstsq(b.T, u.T, rcond=rcond)[0].T  # W = U B^+, (n_{j-1} + 1, n_j)
    new = list(params)
    new[j] = {"w": w[:-1], "b": w[-1]}  # the bias is the row that meets the constant 1
    return type(params)(new)


def exact_bcd_sweep(model: MLP, params, x: Array, y: Array, *, order=None, rcond=None):
    """One sweep of exact BCD: :func:`solve_block` on every block in turn (default input
    layer first). The loss never increases from one block to the next."""
    order = _block_indices(range(len(params)) if order is None else order, len(params))
    for j in order:
        params = solve_block(model, params, j, x, y, rcond=rcond)
    return params


# --- non-convexity: one map, many factorizations --------------------------------------------


def least_squares_map(x: Array, y: Array, *, rcond=None) -> tuple[Array, Array]:
    """The affine least-squares fit ``(P (n_0, n_L), c (n_L,))`` minimizing
    ``sum_i ||x_i P + c - y_i||^2`` (minimum norm when ``[x, 1]`` is rank deficient).

    Its loss is a lower bound for every network whose map is affine: a deep linear network
    whose map equals it is a global minimizer.
    """
    checks.check_rank(x, 2, "x", "(N, n_0)")
    checks.check_rank(y, 2, "y", "(N, n_L)")
    checks.check_same_batch(x, y, "x", "y")
    w = jnp.linalg.lstsq(append_ones(x), y, rcond=rcond)[0]  # (n_0 + 1, n_L)
    return w[:-1], w[-1]


def factorize(model: MLP, p: Array, c: Array) -> list[dict[str, Array]]:
    """Parameters of ``model`` whose map is ``x @ p + c``: a balanced factorization.

    With the thin SVD ``p = U diag(s) V^T`` (``m = min(n_0, n_L)`` singular values) every
    layer gets ``diag(s)^(1/L)``: ``w_1 = U diag(s)^(1/L)``, ``w_j = diag(s)^(1/L)`` in
    between, ``w_L = diag(s)^(1/L) V^T``, each padded with zeros to its layer's shape; the
    biases are zero but ``b_L = c``. Every hidden width must be at least ``m``.
    """
    check_deep_linear(model)
    sizes = model.sizes
    n_0, n_L = sizes[0], sizes[-1]
    checks.check_rank(p, 2, "p", f"({n_0}, {n_L})")
    if tuple(p.shape) != (n_0, n_L) or tuple(np.shape(c)) != (n_L,):
        raise ValueError(
            f"p must have shape (n_0, n_L) = {(n_0, n_L)} and c ({n_L},); got {p.shape} and "
            f"{np.shape(c)}."
        )
    m, L = min(n_0, n_L), len(sizes) - 1
    if min(sizes[1:-1], default=m) < m:
        raise ValueError(
            f"factorize needs every hidden width >= min(n_0, n_L) = {m}; got sizes {sizes}. "
            "A narrower layer caps the rank of the network's map."
        )
    if L == 1:
        return [{"w": p, "b": c}]
    u, s, vt = jnp.linalg.svd(p, full_matrices=False)  # (n_0, m), (m,), (m, n_L)
    root = s ** (1.0 / L)  # diag(s)^(1/L)

    def pad(a, shape):
        return jnp.zeros(shape, p.dtype).at[: a.shape[0], : a.shape[1]].set(a)

    ws = [pad(u * root[None, :], (n_0, sizes[1]))]
    ws += [pad(jnp.diag(root), (sizes[i], sizes[i + 1])) for i in range(1, L - 1)]
    ws += [pad(root[:, None] * vt, (sizes[-2], n_L))]
    bs = [jnp.zeros((n,), p.dtype) for n in sizes[1:-1]] + [c.astype(p.dtype)]
    return [{"w": w, "b": b} for w, b in zip(ws, bs)]


def equivalent_params(model: MLP, params, j: int, s=-1.0):
    """The same map through different layers: layer ``j``'s output ``z_j -> z_j S``.

    ``w_j -> w_j S``, ``b_j -> b_j S``, ``w_{j+1} -> S^-1 w_{j+1}`` (in the notes' column
    layout ``W_j -> S^T W_j``, ``W_{j+1} -> W_{j+1} S^-T``): the product is unchanged, so the
    loss is too, for every loss and every input.

    Args:
        model: a deep linear network with at least two layers.
        params: its parameters.
        j: the hidden layer, ``0 <= j < L - 1`` (``params[j]`` and ``params[j + 1]`` change).
        s: ``S``: a nonzero number (``-1``: flip the signs of the layer's units), a vector of
            ``n_j`` nonzero numbers (a diagonal rescaling), or an invertible ``(n_j, n_j)``
            matrix (condition number below ``0.01 / eps_float32``, about 8e4). A concrete
            ``s`` that is not invertible raises ``ValueError``.
    """
    check_deep_linear(model)
    model.check_params(params)
    n_layers = len(params)
    j = checks.check_int(j, "j")
    if not 0 <= j < n_layers - 1:
        raise ValueError(
            f"j must index a hidden layer, 0 <= j < L - 1 = {n_layers - 1}; got {j} "
            f"(the network has {n_layers} layers)."
        )
    n_j = model.sizes[j + 1]
    shape = np.shape(s)
    if shape not in ((), (n_j,), (n_j, n_j)):
        raise ValueError(
            f"s must be a number, a vector ({n_j},) or a matrix ({n_j}, {n_j}) for layer j = "
            f"{j} of width {n_j}; got shape {shape}."
        )
    if checks.is_concrete(s):
        s_np = np.asarray(s, np.float64)
        singular = (
            not np.all(np.isfinite(s_np))
            or (len(shape) < 2 and np.any(s_np == 0))
            or (len(shape) == 2 and np.linalg.cond(s_np) * np.finfo(np.float32).eps > 1e-2)
        )
        if singular:
            raise ValueError(
                f"s must be invertible (finite, nonzero, well conditioned); got {s_np!r:.80}."
            )
    dtype = params[j]["w"].dtype
    s = jnp.asarray(s, dtype)
    if len(shape) == 0:  # S = s I
        s_mat, s_inv = s * jnp.eye(n_j, dtype=dtype), jnp.eye(n_j, dtype=dtype) / s
    elif len(shape) == 1:  # S = diag(s)
        s_mat, s_inv = jnp.diag(s), jnp.diag(1.0 / s)
    else:
        s_mat, s_inv = s, jnp.linalg.inv(s)
    new = list(params)
    new[j] = {"w": params[j]["w"] @ s_mat, "b": params[j]["b"] @ s_mat}  # z_j S
    new[j + 1] = {"w": s_inv @ params[j + 1]["w"], "b": params[j + 1]["b"]}  # S^-1 w_{j+1}
    return type(params)(new)


def minimizer_pair(model: MLP, x: Array, y: Array, *, j: int = 0, s=-1.0, rcond=None):
    """Two global minimizers of a deep linear network's squared loss on ``(x, y)``.

    The first is :func:`factorize` of the least-squares map (its loss is the least-squares
    optimum, which no parameters can beat), the second its :func:`equivalent_params` through
    layer ``j`` with ``S = s``. A convex loss would be minimal on the whole segment between
    them; with ``s = -1`` the midpoint has ``w_j = 0, b_j = 0`` and ``w_{j+1} = 0``, so its
    map is the constant ``c`` of the least-squares fit and its loss that of predicting ``c``
    for every input.

    Returns:
        ``(params_a, params_b)``.
    """
    check_deep_linear(model)
    p, c = least_squares_map(x, y, rcond=rcond)
    a = factorize(model, p, c)
    return a, equivalent_params(model, a, j, s)


def interpolate(params_a, params_b, t):
    """``(1 - t) params_a + t params_b``, leaf by leaf (``t = 1/2``: the midpoint)."""
    if jax.tree.structure(params_a) != jax.tree.structure(params_b):
        raise ValueError("params_a and params_b must have the same structure.")
    return jax.tree.map(lambda a, b: (1 - t) * a + t * b, params_a, params_b)
