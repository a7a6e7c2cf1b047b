"""Compiled training steps, on-device epochs and jitted evaluation.

* A **step** is one pure function ``(state, (x, y)) -> (state, metrics)``: the gradient of
  the minibatch objective (by ``jax.value_and_grad`` or by ``funcnn.backprop``), one optax
  update, ``step + 1``. :func:`make_train_step` jits it with the state's buffers donated.
* An **epoch** is one compiled call (:func:`make_epoch`): the training set is permuted with the
  epoch's key, cut into ``n // batch_size`` batches ``(n_batches, B, ...)`` and the step is
  ``jax.lax.scan``-ned over them. The Python loop only runs once per epoch.
* Evaluation on a whole set is :mod:`funcnn.train.evaluate`.

The minibatch objective is the lecture's empirical risk on the batch plus optional penalties,

    J(theta) = L(f_theta(x_B), y_B) + l2 * (1/2) sum ||w||^2 + l1 * sum |w|,

with the weights ``w`` of every layer (not the biases) in the penalties (the math paper,
section 6.1; the digest, section 3).

A step updates the parameters in one of the lecture's two forms (:data:`UPDATES`,
:mod:`funcnn.layerwise`): ``"simultaneous"``, (u.1), every layer moves along the optimizer's
direction taken at one point, ``w^(k+1) = w^(k) - alpha^(k) d^(k)``; or ``"layerwise"``,
(u.2) as block coordinate descent, ``W_j^(k+1) = W_j^(k) - alpha_j^(k) D_j^(k)`` for
``j = 1, ..., L`` in turn, the gradient of the batch recomputed after every block's update.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from funcnn import checks, layerwise
from funcnn.data import epoch_batches, permutation  # noqa: F401  (permutation: re-exported)
from funcnn.losses import LOSSES, l1_penalty, l2_penalty
from funcnn.ops import one_hot
from funcnn.train.sharding import batch_sharding, replicated
from funcnn.train.state import (
    TrainState,
    augment_key,
    data_shuffle_key,
    dropout_key,
    shuffle_key,
)

GRADS = ("autodiff", "manual")
UPDATES: dict[str, str] = {
    "simultaneous": "(u.1): w <- w - alpha_k d_k, every layer at the same point",
    "layerwise": "(u.2) as block coordinate descent: W_j <- W_j - alpha_j^(k) D_j^(k), "
    "j = 1..L in turn (input layer first), the gradient recomputed after each block",
}
CLASSIFICATION_LOSSES = ("softmax_cross_entropy", "binary_cross_entropy")


def check_loss(loss, grad: str = "autodiff") -> None:
    """``loss`` is a name of ``funcnn.losses.LOSSES`` or, for autodiff only, a callable."""
    if callable(loss) and not isinstance(loss, str):
        if grad == "manual":
            raise ValueError(
                'grad="manual" needs the loss by name (funcnn.backprop derives its gradient); '
                f"valid names: {', '.join(sorted(LOSSES))}."
            )
        return
    checks.check_choice(loss, LOSSES, "loss")


def check_grad(grad) -> None:
    """``grad`` is "autodiff" or "manual"."""
    checks.check_choice(grad, GRADS, "grad")


def check_update(update, optimizer=None) -> None:
    """``update`` is a name of :data:`UPDATES`; "layerwise" needs a per-layer optimizer."""
    checks.check_choice(update, UPDATES, "update")
    if (
        update == "layerwise"
        and optimizer is not None
        and not isinstance(optimizer, layerwise.BlockwiseTransformation)
    ):
        raise TypeError(
            'update="layerwise" updates one layer at a time and needs one optimizer state per '
            "layer: pass funcnn.layerwise.by_block(optimizer) (build_optimizer(..., "
            "by_block=True) does this); got "
            f"{type(optimizer).__name__}."
        )


def make_objective(model, loss, *, l2=0.0, l1=0.0) -> Callable:
    """``J(params, x, y, key=None) -> ()``: the minibatch loss plus penalties (module docstring).

    Dropout is on (train mode) iff ``key`` is not None, as in ``funcnn.backprop``.
    """
    check_loss(loss)
    loss_fn = LOSSES[loss] if isinstance(loss, str) else loss

    def objective(params, x, y, key=None):
        out = model.apply(params, x, key=key, train=key is not None)
        j = loss_fn(out, y)
        if not checks.is_static_zero(l2):
            j = j + l2 * l2_penalty(params)
        if not checks.is_static_zero(l1):
            j = j + l1 * l1_penalty(params)
        return j

    return objective


def make_value_and_grad(model, loss, *, grad: str = "autodiff", l2=0.0, l1=0.0) -> Callable:
    """``f(params, x, y, key=None) -> (J, dJ/dparams)`` by autodiff or by hand.

    ``grad="autodiff"`` differentiates :func:`make_objective` with ``jax.value_and_grad``;
    ``grad="manual"`` uses ``funcnn.backprop.value_and_grad`` (the delta recursion written
    by hand), which computes the same objective and gradient.
    """
    check_grad(grad)
    check_loss(loss, grad)
    checks.check_nonnegative(l2, "l2")
    checks.check_nonnegative(l1, "l1")
    if grad == "autodiff":
        return jax.value_and_grad(make_objective(model, loss, l2=l2, l1=l1))
    from funcnn import backprop

    # Static or traced coefficients (a fit_seeds grid over l2 or l1) are both accepted.
    return backprop.value_and_grad(model, loss, l2=l2, l1=l1)


def make_step_fn(
    model,
    loss,
    optimizer: optax.GradientTransformation,
    *,
    grad="autodiff",
    l2=0.0,
    l1=0.0,
    grad_norm: bool = True,
    augment=None,
    label_smoothing: float = 0.0,
    update: str = "simultaneous",
) -> Callable:
    """The pure (un-jitted) step ``(state, (x, y)) -> (state, metrics)``.

    ``metrics`` holds ``loss`` (the objective J on the batch, before the update) and, with
    ``grad_norm=True``, ``grad_norm`` (global L2 norm of dJ/dparams; about 10 % of the step
    time of a small MLP on CPU, so it can be switched off). Dropout, when the model has it,
    uses the key :func:`funcnn.train.state.dropout_key` ``(state.key, state.step)``.

    ``augment`` (a :class:`funcnn.data.Augment`) replaces the batch by a random copy drawn
    from :func:`funcnn.train.state.augment_key` ``(state.key, state.step)``;
    ``label_smoothing`` eps trains softmax cross-entropy on the targets
    ``(1 - eps) one_hot(y) + eps / n_classes`` instead of ``one_hot(y)`` (the reported
    evaluation losses stay on the true labels).

    ``update`` is "simultaneous" ((u.1): one optimizer update of every layer at the point
    the gradient was taken) or "layerwise" ((u.2) as block coordinate descent,
    :func:`funcnn.layerwise.optimizer_sweep`): for ``j = 1, ..., L`` (``params[0]`` first)
    block ``j`` takes one step of its own optimizer state,
    ``W_j <- W_j - alpha_j^(k) D_j^(k)``, with the gradient of the same batch (same dropout
    mask and augmentation) recomputed after the blocks before it moved; a step costs ``L``
    gradient evaluations, the first of which gives ``loss`` and ``grad_norm``. Input layer
    first, as :func:`funcnn.layerwise.layerwise_sweep` and the exact BCD sweep
    :func:`funcnn.layerwise.exact_bcd_sweep`: each later layer's gradient is then taken at
    the features the updated earlier layers now produce, so a step is the same
    Gauss-Seidel sweep as theirs. The optimizer must be a
    :func:`funcnn.layerwise.by_block` one (one state per layer; the schedule's ``k`` counts
    sweeps).
    """
    check_update(update, optimizer)
    value_and_grad = make_value_and_grad(model, loss, grad=grad, l2=l2, l1=l1)
    stochastic = bool(model.stochastic)
    smooth = make_label_smoothing(model, loss, label_smoothing)

    def step(state: TrainState, batch) -> tuple[TrainState, dict]:
        x, y = batch
        if augment is not None:
            x = augment(augment_key(state.key, state.step), x)
        y = smooth(y)
        key = dropout_key(state.key, state.step) if stochastic else None
        j, grads = value_and_grad(state.params, x, y, key)
        if update == "layerwise":  # (u.2): one block at a time, the gradient recomputed
            params, opt_state = layerwise.optimizer_sweep(
                lambda p: value_and_grad(p, x, y, key)[1],
                state.params,
                optimizer,
                state.opt_state,
                grads=grads,
            )
        else:  # (u.1): every block along its direction at the same point
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
        metrics = {"loss": j}
        if grad_norm:
            metrics["grad_norm"] = optax.tree.norm(grads)
        return TrainState(params, opt_state, state.step + 1, state.key), metrics

    return step


def make_label_smoothing(model, loss, eps: float) -> Callable:
    """``y -> (1 - eps) one_hot(y) + eps / K`` for integer labels of a softmax cross-entropy
    over ``K = model.output_shape[-1]`` classes (the identity when ``eps`` is 0)."""
    eps = check_label_smoothing(eps, loss)
    if eps == 0.0:
        return lambda y: y
    n_classes = int(model.output_shape[-1])

    def smooth(y):
        if not jnp.issubdtype(y.dtype, jnp.integer):
            raise TypeError("label_smoothing needs integer class labels as targets.")
        return (1.0 - eps) * one_hot(y, n_classes) + eps / n_classes

    return smooth


def check_label_smoothing(eps, loss=None) -> float:
    """``eps`` in ``[0, 1)``; a positive one only with softmax cross-entropy (checked when
    ``loss`` is known)."""
    eps = checks.check_nonnegative(eps, "label_smoothing")
    if not isinstance(eps, float) or eps >= 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1); got {eps!r}.")
    if eps > 0 and loss is not None and loss != "softmax_cross_entropy":
        raise ValueError(f"label_smoothing applies to softmax_cross_entropy; the loss is {loss!r}.")
    return eps


def _counted_jit(fn: Callable, **jit_kwargs):
    """``jax.jit(fn)`` with a ``trace_count()`` attribute counting how often it was traced."""
    traces = [0]

    @functools.wraps(fn)
    def counted(*args):
        traces[0] += 1
        return fn(*args)

    jitted = jax.jit(counted, **jit_kwargs)
    jitted.trace_count = lambda: traces[0]
    return jitted


@functools.lru_cache(maxsize=128)
def make_train_step(
    model,
    loss,
    optimizer: optax.GradientTransformation,
    *,
    grad="autodiff",
    l2=0.0,
    l1=0.0,
    grad_norm: bool = True,
    augment=None,
    label_smoothing: float = 0.0,
    update: str = "simultaneous",
):
    """One jitted training step ``step(state, (x, y)) -> (state, metrics)``.

    The input state's buffers are donated (do not reuse a state after passing it in).
    The same arguments return the same compiled function (cached), so repeated calls do not
    recompile; ``step.trace_count()`` says how many times it was traced.

    Args:
        model: a funcnn model (``model.apply(params, x, key=, train=)``), e.g. ``funcnn.mlp``.
        loss: a name from ``funcnn.losses.LOSSES`` (or, for autodiff, a callable
            ``loss(y_hat, y) -> ()``).
        optimizer: an ``optax.GradientTransformation`` (:func:`make_optimizer`).
        grad: "autodiff" (``jax.value_and_grad``) or "manual" (``funcnn.backprop``).
        l2, l1: penalty coefficients added to the loss (weights only).
        grad_norm: also return the gradient's global norm as a metric.
        augment, label_smoothing, update: see :func:`make_step_fn`.

    Returns:
        ``step(state: TrainState, batch: (x (B, *input_shape), y (B, ...))) -> (state, metrics)``
        with ``metrics = {"loss": (), "grad_norm": ()}`` (no ``grad_norm`` if switched off).
    """
    step = make_step_fn(
        model, loss, optimizer, grad=grad, l2=l2, l1=l1, grad_norm=grad_norm, augment=augment,
        label_smoothing=label_smoothing, update=update,
    )  # fmt: skip
    return _counted_jit(step, donate_argnums=0)


def batches_for(state: TrainState, x, y, batch_size: int, data_seed: int | None = None):
    """This epoch's shuffled batches ``(n_batches, B, ...)`` for a run in ``state``.

    The epoch number is ``e = state.step // n_batches``; the permutation depends only on
    ``(state.key, e)`` (:func:`funcnn.train.state.shuffle_key`), or on ``(data_seed, e)``
    (:func:`funcnn.train.state.data_shuffle_key`) when the data order is fixed apart from
    the run's seed. So a resumed run shuffles exactly like an uninterrupted one.
    """
    n = checks.check_same_batch(x, y, "x", "y")
    checks.check_batch_size(batch_size, n)
    e = state.step // (n // batch_size)
    key = shuffle_key(state.key, e) if data_seed is None else data_shuffle_key(data_seed, e)
    return epoch_batches(key, x, y, batch_size)


def make_epoch_fn(
    model,
    loss,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    grad="autodiff",
    l2=0.0,
    l1=0.0,
    batch_sharding=None,
    data_seed: int | None = None,
    augment=None,
    label_smoothing: float = 0.0,
    update: str = "simultaneous",
) -> Callable:
    """The pure (un-jitted) epoch ``(state, x, y) -> (state, metrics)``; see :func:`make_epoch`.

    Its two halves are attributes: ``epoch.batches(state, x, y) -> (xb, yb)``
    (:func:`batches_for`) and ``epoch.run(state, xb, yb) -> (state, metrics)`` (the scan).
    """
    batch_size = checks.check_positive_int(batch_size, "batch_size")
    check_data_seed(data_seed)
    step = make_step_fn(
        model, loss, optimizer, grad=grad, l2=l2, l1=l1, augment=augment,
        label_smoothing=label_smoothing, update=update,
    )  # fmt: skip

    def batches(state: TrainState, x, y):
        return batches_for(state, x, y, batch_size, data_seed)

    def run(state: TrainState, xb, yb):
        if batch_sharding is not None:  # data parallel: split every batch across devices
            xb = jax.lax.with_sharding_constraint(xb, batch_sharding)
            yb = jax.lax.with_sharding_constraint(yb, batch_sharding)
        return jax.lax.scan(step, state, (xb, yb))

    def epoch(state: TrainState, x, y):
        xb, yb = batches(state, x, y)  # (n_batches, B, ...)
        return run(state, xb, yb)

    epoch.batches, epoch.run = batches, run
    return epoch


def check_data_seed(data_seed) -> None:
    """``data_seed`` is None or a non-negative integer."""
    if data_seed is not None:
        checks.check_nonnegative_int(data_seed, "data_seed")


@functools.lru_cache(maxsize=128)
def make_epoch(
    model,
    loss,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    grad="autodiff",
    l2=0.0,
    l1=0.0,
    mesh=None,
    data_seed: int | None = None,
    augment=None,
    label_smoothing: float = 0.0,
    update: str = "simultaneous",
):
    """One epoch as one compiled call: ``epoch(state, x, y) -> (state, metrics)``.

    The training set ``x: (n, *model.input_shape)``, ``y: (n, ...)`` (on device) is
    permuted with the key of epoch ``state.step // n_batches`` (:func:`batches_for`: from the
    run's key, or from ``data_seed`` when given), cut into ``n_batches = n // batch_size`` batches and the
    step of :func:`make_train_step` runs over them with ``jax.lax.scan``. ``metrics`` holds
    one value per step: ``{"loss": (n_batches,), "grad_norm": (n_batches,)}``. The state is
    donated.

    With ``mesh`` (a ``jax.sharding.Mesh`` with axis "data"), every batch is split across
    the mesh's devices and params stay replicated (see :mod:`funcnn.train.sharding`).
    ``augment``, ``label_smoothing`` and ``update``: see :func:`make_step_fn`.
    """
    kw = dict(
        batch_size=batch_size, grad=grad, l2=l2, l1=l1, data_seed=data_seed, augment=augment,
        label_smoothing=label_smoothing, update=update,
    )  # fmt: skip
    if mesh is None:
        return _counted_jit(make_epoch_fn(model, loss, optimizer, **kw), donate_argnums=0)
    fn = make_epoch_fn(
        model, loss, optimizer, batch_sharding=batch_sharding(mesh, stacked=True), **kw
    )
    rep = replicated(mesh)
    return _counted_jit(fn, donate_argnums=0, in_shardings=rep, out_shardings=rep)
