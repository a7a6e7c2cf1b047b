"""The digest's closed-form gradients of the one-layer models, written out.

Linear regression's minibatch gradient and SGD update (section 3, with weight decay),
softmax regression's ``(softmax(O) - Y) / B`` (section 4) and logistic regression's
``(sigmoid(o) - y) / B``: each the same number the delta recursion gives for a one-layer
network, in the form the digest writes it.
"""

from __future__ import annotations

import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import get_activation
from funcnn.ops import one_hot, softmax

Array = jnp.ndarray


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
