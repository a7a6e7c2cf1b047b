"""Forward and backward of every differentiable block, written by hand.

Each block is a pair:

* ``<block>_forward(...) -> (out, cache)``: the output and what the backward needs;
* ``<block>_backward(..., cache, d_out) -> (d_params, d_in)``: the cotangent of the output
  in, the gradients of the block's parameters and of its input out.

Names follow the notes: ``z_{j-1}`` is a layer's input (the previous layer's output), ``a_j``
its pre-activation, ``z_j = sigma_j(a_j)`` its output, ``delta_j = dL/da_j``. In our row-batch
layout a dense layer is ``a = z_prev @ w + b`` with ``w: (n_in, n_out)``, the transpose of the
notes' ``W_j: (n_out, n_in)`` (see :mod:`funcnn.layers`); so the lecture's
``dL/dW_j = delta_j z_{j-1}^T`` becomes ``dw = z_prev.T @ delta``, summed over the batch rows.

Nothing here calls JAX's automatic differentiation: every line is one step of the chain rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import get_activation
from funcnn.layers import append_ones, check_dense_input
from funcnn.losses import LOSSES, l1_penalty, l2_penalty, weights_only
from funcnn.ops import log_softmax, one_hot, softmax

Array = jnp.ndarray


# --- dense layer ---------------------------------------------------------------------------


class DenseCache(NamedTuple):
    """What the dense backward needs."""

    z_prev: Array  # (B, n_in): the layer's input z_{j-1}


def dense_forward(params: dict, z_prev: Array) -> tuple[Array, DenseCache]:
    """a = z_prev @ w + b: ``(B, n_in) -> (B, n_out)`` (the lecture's a_j = W_j z_{j-1} + b_j)."""
    check_dense_input(params, z_prev, "z_prev")
    a = z_prev @ params["w"] + params["b"][None, :]  # (B, n_out)
    return a, DenseCache(z_prev)


def dense_backward(params: dict, cache: DenseCache, delta: Array) -> tuple[dict, Array]:
    """Backward of the dense layer, given ``delta = dL/da`` of shape ``(B, n_out)``.

    Returns:
        ``({"w": (n_in, n_out), "b": (n_out,)}, dz_prev (B, n_in))`` with

        * ``dw = z_prev.T @ delta``: the lecture's dL/dW_j = delta_j z_{j-1}^T, transposed to
          our layout and summed over the batch rows (the index note's eq. 4);
        * ``db = sum_rows(delta)``: the bias sees a constant input 1;
        * ``dz_prev = delta @ w.T``: the lecture's W_{j+1}^T delta_{j+1} (the index note's
          eqs. 6-7), which the previous layer multiplies by its sigma'.
    """
    w = params["w"]
    checks.check_rank(delta, 2, "delta", f"(batch, {w.shape[1]})")
    if delta.shape != (cache.z_prev.shape[0], w.shape[1]):
        raise ValueError(
            f"delta must have shape {(cache.z_prev.shape[0], w.shape[1])} (batch, n_out); "
            f"got {delta.shape}."
        )
    dw = cache.z_prev.T @ delta  # (n_in, n_out) = sum_b z_prev[b]^T delta[b]
    db = jnp.sum(delta, axis=0)  # (n_out,)
    dz_prev = delta @ w.T  # (B, n_in)
    return {"w": dw, "b": db}, dz_prev


# --- dense layer with the bias absorbed (the index note, eq. 2) ----------------------------


class DenseAbsorbedCache(NamedTuple):
    z_prev_1: Array  # (B, n_in + 1): the input with the constant 1 appended


def dense_absorbed_forward(params: dict, z_prev: Array) -> tuple[Array, DenseAbsorbedCache]:
    """a = [z_prev, 1] @ w_tilde with ``w_tilde: (n_in + 1, n_out)`` (bias = last row).

    The index note's eq. 2: o_i = f(w_ij o_j) "with the bias absorbed into the weights".
    """
    w = params["w"]
    checks.check_rank(w, 2, "params['w']", "(n_in + 1, n_out)")
    checks.check_rank(z_prev, 2, "z_prev", "(batch, n_in)")
    if z_prev.shape[1] + 1 != w.shape[0]:
        raise ValueError(
            f"z_prev must have {w.shape[0] - 1} features for an absorbed-bias weight of shape "
            f"{w.shape}; got z_prev of shape {z_prev.shape}."
        )
    z_prev_1 = append_ones(z_prev)  # (B, n_in + 1), last column = 1
    return z_prev_1 @ w, DenseAbsorbedCache(z_prev_1)


def dense_absorbed_backward(
    params: dict, cache: DenseAbsorbedCache, delta: Array
) -> tuple[dict, Array]:
    """dL/dw_ij = delta_i o_j (the index note's eq. 4 with eq. 3), o_{n_in+1} = 1.

    Returns ``({"w": (n_in + 1, n_out)}, dz_prev (B, n_in))``; the last row of ``dw`` is the
    bias gradient, and the constant input gets no cotangent (it is dropped from ``dz_prev``).
    """
    w = params["w"]
    if delta.shape != (cache.z_prev_1.shape[0], w.shape[1]):
        raise ValueError(
            f"delta must have shape {(cache.z_prev_1.shape[0], w.shape[1])} (batch, n_out); "
            f"got {delta.shape}."
        )
    dw = cache.z_prev_1.T @ delta  # (n_in + 1, n_out)
    dz_prev = delta @ w[:-1].T  # (B, n_in): the row of the constant 1 carries nothing back
    return {"w": dw}, dz_prev


# --- activations ---------------------------------------------------------------------------


class ActivationCache(NamedTuple):
    a: Array  # the pre-activation, any shape


def activation_forward(name: str, a: Array) -> tuple[Array, ActivationCache]:
    """z = sigma(a) elementwise, for any activation of :data:`funcnn.activations.ACTIVATIONS`."""
    return get_activation(name).f(a), ActivationCache(a)


def activation_backward(name: str, cache: ActivationCache, dz: Array) -> Array:
    """dL/da = dL/dz o sigma'(a) (the lecture's Hadamard product with sigma'_j).

    The kink conventions are those of :mod:`funcnn.activations` (ReLU'(0) = 0, step' = 0),
    which ``jax.grad`` of the same forwards follows as well.
    """
    checks.check_same_shape(dz, cache.a, "dz", "the cached pre-activation a")
    return dz * get_activation(name).df(cache.a)


# --- inverted dropout (the digest, section 5) -----------------------------------------------


def dropout_forward(z: Array, mask: Array | None) -> tuple[Array, Array | None]:
    """h' = h o m with the inverted mask m in {0, 1/(1-p)} (``funcnn.layers.dropout_mask``).

    The mask is the cache: the backward must use exactly the units the forward dropped.
    ``mask=None`` is the identity (no dropout, or evaluation mode).
    """
    if mask is None:
        return z, None
    checks.check_same_shape(z, mask, "z", "mask")
    return z * mask, mask


def dropout_backward(mask: Array | None, dout: Array) -> Array:
    """dL/dh = dL/dh' o m: dropped units get no gradient, kept ones are scaled by 1/(1-p)."""
    if mask is None:
        return dout
    checks.check_same_shape(dout, mask, "dout", "mask")
    return dout * mask


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
