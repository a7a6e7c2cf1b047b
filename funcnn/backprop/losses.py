"""The losses and penalties of the notes, forward and backward, written by hand.

Each loss ``L(y_hat, y)`` has a forward (its value, computed by :mod:`funcnn.losses` itself,
and a cache) and a backward giving ``dL/dy_hat`` (where the delta recursion starts) and
``dL/dy``. The penalties' gradients are what weight decay adds to every weight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import get_activation
from funcnn.losses import LOSSES, l1_penalty, l2_penalty, weights_only
from funcnn.ops import log_softmax, one_hot, softmax

Array = jnp.ndarray


# --- softmax (the digest, section 4) ---------------------------------------------------------


def softmax_backward(p: Array, dp: Array, axis: int = -1) -> Array:
    """Backward of p = softmax(s) along ``axis``: ds = p o (dp - sum_k p_k dp_k).

    From dp_j/ds_i = p_j (1[i = j] - p_i), the Jacobian of the softmax.
    """
    return p * (dp - jnp.sum(p * dp, axis=axis, keepdims=True))


# --- losses ---------------------------------------------------------------------------------


class LossCache(NamedTuple):
    """What the backward of a loss needs."""

    y_hat: Array  # (B, ...): predictions or logits o
    target: Array  # same shape as y_hat (integer labels are turned into one-hot rows)
    y_is_labels: bool  # True when the caller passed integer class labels


def _prepare_target(name: str, y_hat: Array, y: Array) -> tuple[Array, bool]:
    if name == "softmax_cross_entropy" and jnp.issubdtype(y.dtype, jnp.integer):
        checks.check_rank(y_hat, 2, "logits", "(batch, n_classes)")
        # Y: the one-hot rows of the digest, section 4.
        return one_hot(y, y_hat.shape[1], y_hat.dtype), True
    return y, False


def loss_forward(name: str, y_hat: Array, y: Array) -> tuple[Array, LossCache]:
    """The value of loss ``name`` (see :data:`funcnn.losses.LOSSES`) and its cache.

    The value is computed by :mod:`funcnn.losses` itself, so it validates its inputs the same
    way and is the same number the rest of funcnn reports.
    """
    checks.check_choice(name, LOSSES, "loss")
    value = LOSSES[name](y_hat, y)
    target, is_labels = _prepare_target(name, y_hat, y)
    return value, LossCache(y_hat, target, is_labels)


def mse_backward(y_hat: Array, y: Array) -> tuple[Array, Array]:
    """L = (1/n) sum_i 1/2 ||y_hat_i - y_i||^2 (the digest, eqs. 6-7).

    dL/dy_hat = (y_hat - y) / n — the 1/2 "disappears when we take the derivative";
    dL/dy = -(y_hat - y) / n.
    """
    n = y_hat.shape[0]
    r = (y_hat - y) / n
    return r, -r


def sum_squared_error_backward(y_hat: Array, y: Array) -> tuple[Array, Array]:
    """L = sum_i ||y_i - y_hat_i||^2 (the lecture's eq. 1): dL/dy_hat = 2 (y_hat - y).

    This is the lecture's start of the recursion, delta_J = 2 (z_J - y) o sigma'_J.
    """
    r = 2.0 * (y_hat - y)
    return r, -r


def softmax_cross_entropy_backward(logits: Array, y: Array) -> tuple[Array, Array]:
    """L = (1/B) sum_b [log sum_k exp(o_bk) - sum_j y_bj o_bj] (the digest, section 4).

    dL/do = (softmax(o) - y) / B: the digest's d l / d o_j = softmax(o)_j - y_j, averaged over
    the batch. ``y`` is one-hot (or any distribution over classes). dL/dy = -log softmax(o) / B.
    """
    n = logits.shape[0]
    return (softmax(logits, axis=-1) - y) / n, -log_softmax(logits, axis=-1) / n


def binary_cross_entropy_backward(logits: Array, y: Array) -> tuple[Array, Array]:
    """L = (1/B) sum [max(o, 0) - o y + log(1 + e^{-|o|})]: dL/do = (sigmoid(o) - y) / B.

    The same "prediction minus target" form as the softmax case (sigma'(o) = sigma(1 - sigma)
    cancels the denominator of the log-likelihood); dL/dy = -o / B.
    """
    n = logits.shape[0]
    return (get_activation("sigmoid").f(logits) - y) / n, -logits / n


LOSS_BACKWARDS: dict[str, Callable[[Array, Array], tuple[Array, Array]]] = {
    "mse": mse_backward,
    "sum_squared_error": sum_squared_error_backward,
    "softmax_cross_entropy": softmax_cross_entropy_backward,
    "binary_cross_entropy": binary_cross_entropy_backward,
}


def loss_backward(
    name: str, cache: LossCache, g: Array | float = 1.0
) -> tuple[Array, Array | None]:
    """``(dL/dy_hat, dL/dy)`` times the incoming cotangent ``g`` (1 for a plain gradient).

    ``dL/dy`` is ``None`` when the targets were integer class labels (they have no gradient).
    """
    checks.check_choice(name, LOSS_BACKWARDS, "loss")
    dy_hat, dy = LOSS_BACKWARDS[name](cache.y_hat, cache.target)
    dy_hat = g * dy_hat
    dy = None if cache.y_is_labels else g * dy
    return dy_hat, dy


# --- penalties (the math paper, section 6.1; the digest, section 3 "weight decay") ------------


def _map_selected(params, select: Callable, fn: Callable) -> object:
    """``fn(leaf)`` on the leaves chosen by ``select(path, leaf)``, zeros elsewhere."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: fn(leaf) if select(path, leaf) else jnp.zeros_like(leaf), params
    )


def l2_penalty_forward(params, select: Callable = weights_only) -> Array:
    """(1/2) sum ||w||^2 over the selected leaves (weights only by default)."""
    return l2_penalty(params, select)


def l2_penalty_backward(params, select: Callable = weights_only):
    """d/dw (1/2) ||w||^2 = w: adding lambda times it to the gradient is weight decay,
    w <- (1 - eta lambda) w - eta dL/dw (the digest, section 3). Zero on unselected leaves."""
    return _map_selected(params, select, lambda w: w)


def l1_penalty_forward(params, select: Callable = weights_only) -> Array:
    """sum |w| over the selected leaves (the math paper's LASSO, section 6.1.1)."""
    return l1_penalty(params, select)


def l1_penalty_backward(params, select: Callable = weights_only):
    """d/dw |w| = sign(w) for w != 0.

    At w = 0, where |w| has the subdifferential [-1, 1], we take +1: the choice ``jax.grad``
    makes for ``jnp.abs``, so that manual and automatic gradients agree exactly there too.
    """
    return _map_selected(params, select, lambda w: jnp.where(w >= 0, 1.0, -1.0).astype(w.dtype))


def add_penalties(value: Array, params, l2=0.0, l1=0.0) -> Array:
    """``value + l2 * (1/2) sum ||w||^2 + l1 * sum |w|`` (weights only); a coefficient that
    is a static zero leaves its term out of the program."""
    if not checks.is_static_zero(l2):
        value = value + l2 * l2_penalty_forward(params)
    if not checks.is_static_zero(l1):
        value = value + l1 * l1_penalty_forward(params)
    return value


def add_penalty_grads(grads, params, l2=0.0, l1=0.0, scale=None):
    """``grads + c2 * w + c1 * sign(w)`` on the weights, with ``c = scale * coefficient``
    (``scale``: the incoming cotangent of the objective, ``None`` for 1)."""
    for coef, backward in ((l2, l2_penalty_backward), (l1, l1_penalty_backward)):
        if checks.is_static_zero(coef):
            continue
        c = coef if scale is None else scale * coef
        grads = jax.tree_util.tree_map(lambda d, s, c=c: d + c * s, grads, backward(params))
    return grads
