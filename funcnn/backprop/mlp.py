"""Backpropagation through a serial dense network: the lecture's delta recursion.

For a network of L layers (the lecture's J), ``a_j = z_{j-1} @ w_j + b_j`` and
``z_j = sigma_j(a_j)`` (dropout applied to z_j for hidden layers in training), the lecture's
"BP: General Case" reads, in the notes' column layout,

    delta_J = dL/dz_J o sigma'_J                 (= 2 (z_J - y) o sigma'_J for the lecture's loss)
    delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j,   j < J
    dL/dW_j = delta_j z_{j-1}^T

where o is the Hadamard product and delta_j = dL/da_j. In our row-batch layout (one example
per row, ``w_j = W_j^T``) the same three lines are

    delta_L = dL/dz_L * sigma'_L(a_L)                         (B, n_L)
    delta_j = (delta_{j+1} @ w_{j+1}.T) * m_j * sigma'_j(a_j)    (B, n_j), m_j the dropout mask
    dL/dw_j = z_{j-1}.T @ delta_j,   dL/db_j = sum_rows(delta_j)

and the sum over the rows is the lecture's "don't forget to sum gradients over all other
samples". :func:`mlp_backward` is exactly this loop, one block backward per line.

The module also writes out the closed forms of the digest for the one-layer models
(linear regression's minibatch update, section 3; softmax regression, section 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import get_activation
from funcnn.backprop.blocks import (
    DenseCache,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
    l1_penalty_backward,
    l1_penalty_forward,
    l2_penalty_backward,
    l2_penalty_forward,
    loss_backward,
    loss_forward,
)
from funcnn.losses import LOSSES
from funcnn.models import MLP
from funcnn.ops import one_hot, softmax

Array = jnp.ndarray


class MLPCache(NamedTuple):
    """Everything the backward pass needs, one entry per layer (index j - 1 for layer j)."""

    z_prev: tuple  # L arrays (B, n_{j-1}): layer j's input z_{j-1} (after dropout); z_prev[0] = x
    a: tuple  # L arrays (B, n_j): pre-activations a_j = z_{j-1} @ w_j + b_j
    masks: tuple  # L - 1 entries (B, n_j) or None: inverted-dropout masks of the hidden layers


def _check_model(model) -> MLP:
    if not isinstance(model, MLP):
        raise TypeError(
            f"model must be a funcnn MLP (from funcnn.models: mlp, perceptron, ...); "
            f"got {type(model).__name__}."
        )
    return model


def _masks(model: MLP, key, batch: int, dtype) -> list:
    """The masks ``model.apply(..., key=key, train=True)`` uses; all None when key is None."""
    if key is None or not model.uses_dropout:
        return [None] * (model.n_layers - 1)
    if not isinstance(key, jax.Array):
        raise TypeError(f"key must be a jax.random.key(seed) or None; got {type(key).__name__}.")
    return model.dropout_masks(key, batch, dtype)


def mlp_forward(model: MLP, params, x: Array, key=None, *, masks=None) -> tuple[Array, MLPCache]:
    """Forward pass of ``model`` that keeps what backprop needs.

    Args:
        model: a funcnn :class:`~funcnn.models.MLP` (any of the dense models).
        params: ``[{"w": (n_{j-1}, n_j), "b": (n_j,)}]``, from ``model.init``.
        x: ``(B, n_0)``.
        key: dropout key. When given (and the model has dropout) the hidden layers are
            dropped with exactly the masks of ``model.apply(params, x, key=key, train=True)``;
            when None the pass is the evaluation pass (no dropout).
        masks: instead of ``key``, the L - 1 hidden-layer masks themselves (``(B, n_j)`` or
            None each), e.g. from ``model.dropout_masks(key, B)``.

    Returns:
        ``(z_L, cache)``: the output ``(B, n_L)`` (equal to ``model.apply``) and an
        :class:`MLPCache`.
    """
    _check_model(model)
    model.check_params(params)
    model.check_input(x)
    if masks is None:
        masks = _masks(model, key, x.shape[0], x.dtype)
    elif key is not None:
        raise ValueError("mlp_forward takes a dropout key or the masks, not both.")
    elif not isinstance(masks, (list, tuple)) or len(masks) != model.n_layers - 1:
        raise ValueError(
            f"masks must list one mask (or None) per hidden layer ({model.n_layers - 1}); "
            f"got {masks!r:.80}."
        )
    z = x  # z_0 = x
    z_prevs, pre_acts = [], []
    for j, (layer, act) in enumerate(zip(params, model.layer_activations)):
        z_prevs.append(z)
        a, _ = dense_forward(layer, z)  # a_j = z_{j-1} @ w_j + b_j
        z = get_activation(act).f(a)  # z_j = sigma_j(a_j)
        if j < model.n_layers - 1:
            z, _ = dropout_forward(z, masks[j])  # z_j <- z_j o m_j (hidden layers only)
        pre_acts.append(a)
    return z, MLPCache(tuple(z_prevs), tuple(pre_acts), tuple(masks))


def mlp_backward(model: MLP, params, cache: MLPCache, dout: Array) -> tuple[list, Array, list]:
    """The delta recursion, from ``dout = dL/dz_L`` back to the input.

    Args:
        model: the model of the forward pass.
        params: the parameters of the forward pass.
        cache: from :func:`mlp_forward`.
        dout: ``(B, n_L)``, the gradient of the loss with respect to the network's output.

    Returns:
        ``(grads, dx, deltas)``:

        * ``grads``: dL/dparams, same pytree structure as ``params``;
        * ``dx``: ``(B, n_0)``, dL/dx;
        * ``deltas``: L arrays, ``deltas[j - 1]`` = the lecture's delta_j = dL/da_j, shape
          ``(B, n_j)`` (their norms per layer show vanishing or exploding gradients).
    """
    _check_model(model)
    L = model.n_layers
    n_out = model.sizes[-1]
    if dout.shape != (cache.a[-1].shape[0], n_out):
        raise ValueError(
            f"dout must have the output's shape {(cache.a[-1].shape[0], n_out)} (batch, n_L); "
            f"got {dout.shape}."
        )
    acts = model.layer_activations
    grads: list = [None] * L
    deltas: list = [None] * L
    dz = dout  # dL/dz_L
    for j in reversed(range(L)):
        sigma_prime = get_activation(acts[j]).df(cache.a[j])  # sigma'_j(a_j)
        # j = L: delta_L = dL/dz_L o sigma'_L;  j < L: delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j
        # (dz already holds delta_{j+1} @ w_{j+1}.T, times the dropout mask m_j).
        delta = dz * sigma_prime
        # dL/dW_j = delta_j z_{j-1}^T  ->  dw_j = z_{j-1}.T @ delta_j;  db_j = sum_rows delta_j
        grads[j], dz_prev = dense_backward(params[j], DenseCache(cache.z_prev[j]), delta)
        deltas[j] = delta
        # dz_prev = delta_j @ w_j.T = (W_j^T delta_j)^T, the input of the next step down;
        # z_{j-1} was multiplied by m_{j-1} in the forward pass, so its gradient is too.
        dz = dropout_backward(cache.masks[j - 1], dz_prev) if j > 0 else dz_prev
    grads = type(params)(grads) if isinstance(params, (list, tuple)) else grads
    return grads, dz, deltas


def _check_coefficient(value, name: str):
    """A penalty coefficient: a non-negative Python number, or a scalar array (which may be
    traced, e.g. a grid over lambda under ``vmap``; concrete arrays are range-checked)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a non-negative float; got {value!r}.")
    if isinstance(value, (int, float)):
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite non-negative float; got {value!r}.")
        return value
    if not hasattr(value, "shape") or value.shape != ():
        raise TypeError(f"{name} must be a non-negative float or a scalar array; got {value!r}.")
    if checks.is_concrete(value) and not (math.isfinite(float(value)) and float(value) >= 0):
        raise ValueError(f"{name} must be a finite non-negative float; got {float(value)!r}.")
    return value


def _active(coefficient) -> bool:
    """False only for a static zero: the penalty is then left out of the program entirely."""
    return not (isinstance(coefficient, float) and coefficient == 0.0)


def value_and_grad(model: MLP, loss: str, *, l2: float = 0.0, l1: float = 0.0) -> Callable:
    """Hand-written ``value_and_grad`` of ``loss(model.apply(params, x), y) + penalties``.

    Args:
        model: a funcnn :class:`~funcnn.models.MLP`.
        loss: a name of :data:`funcnn.losses.LOSSES`: "mse", "sum_squared_error",
            "softmax_cross_entropy" or "binary_cross_entropy" (the last two take logits).
        l2: coefficient lambda of ``l2_penalty(params)`` = 1/2 sum ||w||^2 (weights only).
        l1: coefficient of ``l1_penalty(params)`` = sum |w| (weights only).

    Returns:
        ``f(params, x, y, key=None) -> (loss_value, grads)``: pure and jit-able, ``grads``
        with exactly the structure of ``params``. Dropout is active iff ``key`` is given,
        with the masks ``model.apply(params, x, key=key, train=True)`` draws.

    Example:
        >>> net = funcnn.mlp([40, 256, 256, 10], "relu")
        >>> f = jax.jit(value_and_grad(net, "softmax_cross_entropy"))
        >>> loss, grads = f(params, x, labels)
    """
    _check_model(model)
    checks.check_choice(loss, LOSSES, "loss")
    l2 = _check_coefficient(l2, "l2")
    l1 = _check_coefficient(l1, "l1")

    def f(params, x, y, key=None):
        out, cache = mlp_forward(model, params, x, key)  # z_L
        value, loss_cache = loss_forward(loss, out, y)
        dout, _ = loss_backward(loss, loss_cache)  # dL/dz_L
        grads, _, _ = mlp_backward(model, params, cache, dout)
        if _active(l2):
            value = value + l2 * l2_penalty_forward(params)
            grads = jax.tree_util.tree_map(
                lambda g, p: g + l2 * p, grads, l2_penalty_backward(params)
            )
        if _active(l1):
            value = value + l1 * l1_penalty_forward(params)
            grads = jax.tree_util.tree_map(
                lambda g, s: g + l1 * s, grads, l1_penalty_backward(params)
            )
        return value, grads

    return f


# --- closed forms of the digest -----------------------------------------------------------


def _one_layer(params, x: Array, name: str) -> tuple[Array, Array]:
    if not isinstance(params, (list, tuple)) or len(params) != 1:
        raise ValueError(f"{name} expects params = [{{'w': (d, q), 'b': (q,)}}] (one layer).")
    layer = params[0]
    checks.check_rank(layer["w"], 2, "params[0]['w']", "(n_in, n_out)")
    checks.check_rank(x, 2, "x", "(batch, n_in)")
    checks.check_batch(x, "x")
    if x.shape[1] != layer["w"].shape[0]:
        raise ValueError(
            f"x must have {layer['w'].shape[0]} features for params[0]['w'] of shape "
            f"{layer['w'].shape}; got x of shape {x.shape}."
        )
    return layer["w"], layer["b"]


def linear_regression_grads(params, x: Array, y: Array) -> list:
    """The digest's gradient of the minibatch loss (1/|B|) sum_i 1/2 (w^T x_i + b - y_i)^2:

        dL/dw = (1/|B|) sum_i x_i (w^T x_i + b - y_i),   dL/db = (1/|B|) sum_i (w^T x_i + b - y_i).

    Args:
        params: ``[{"w": (d, k), "b": (k,)}]`` of :func:`funcnn.linear_regression`.
        x: ``(B, d)``; y: ``(B, k)``.
    """
    w, b = _one_layer(params, x, "linear_regression_grads")
    checks.check_same_shape(x @ w, y, "predictions x @ w", "y")
    n = x.shape[0]
    residual = x @ w + b[None, :] - y  # (B, k): w^T x_i + b - y_i, one row per example
    return [{"w": x.T @ residual / n, "b": jnp.sum(residual, axis=0) / n}]


def linear_regression_sgd_update(
    params, x: Array, y: Array, lr: float, weight_decay: float = 0.0
) -> list:
    """One minibatch SGD step of the digest (section 3, with "Norms & Weight Decay"):

        w <- (1 - eta lambda) w - (eta/|B|) sum_i x_i (w^T x_i + b - y_i)
        b <- b - (eta/|B|) sum_i (w^T x_i + b - y_i)

    (the digest's line for b misprints its first ``b`` as ``w``; the bias is not decayed).
    """
    grads = linear_regression_grads(params, x, y)
    w, b = params[0]["w"], params[0]["b"]
    return [
        {
            "w": (1.0 - lr * weight_decay) * w - lr * grads[0]["w"],
            "b": b - lr * grads[0]["b"],
        }
    ]


def softmax_regression_grads(params, x: Array, labels: Array) -> list:
    """Softmax regression (the digest, section 4): o = X W + b, L = mean cross-entropy.

    With d l / d o_j = softmax(o)_j - y_j and o = x W + b,

        dL/dW = (1/B) X^T (softmax(O) - Y),   dL/db = (1/B) sum_i (softmax(o_i) - y_i).

    Args:
        params: ``[{"w": (d, q), "b": (q,)}]`` of :func:`funcnn.softmax_regression`.
        x: ``(B, d)``.
        labels: integer classes ``(B,)`` or one-hot / distributions ``(B, q)``.
    """
    w, b = _one_layer(params, x, "softmax_regression_grads")
    q = w.shape[1]
    o = x @ w + b[None, :]  # (B, q) logits
    if jnp.issubdtype(labels.dtype, jnp.integer):
        checks.check_rank(labels, 1, "labels", "(batch,) of class indices")
        y = one_hot(labels, q, o.dtype)
    else:
        y = labels
    checks.check_same_shape(o, y, "logits", "labels (one-hot)")
    n = x.shape[0]
    err = softmax(o, axis=-1) - y  # (B, q): softmax(o) - y
    return [{"w": x.T @ err / n, "b": jnp.sum(err, axis=0) / n}]


def logistic_regression_grads(params, x: Array, y: Array) -> list:
    """Logistic regression with binary cross-entropy: dL/dw = (1/B) X^T (sigmoid(o) - y),
    dL/db = (1/B) sum_i (sigmoid(o_i) - y_i), with o = x w + b ``(B, 1)`` and y ``(B, 1)``."""
    w, b = _one_layer(params, x, "logistic_regression_grads")
    o = x @ w + b[None, :]
    checks.check_same_shape(o, y, "logits", "y")
    n = x.shape[0]
    err = get_activation("sigmoid").f(o) - y
    return [{"w": x.T @ err / n, "b": jnp.sum(err, axis=0) / n}]
