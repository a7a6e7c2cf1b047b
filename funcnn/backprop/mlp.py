"""Backpropagation through a dense network, one line per equation of the lecture.

For a network of L layers (the lecture's J), ``a_j = W_j z_{j-1} + b_j`` and
``z_j = sigma_j(a_j)`` (dropout applied to z_j for hidden layers in training), the lecture's
"BP: General Case" (seed 003) reads, in the notes' column layout and 1-based layer index,

    delta_L = dL/dz_L o sigma'_L                 (= 2 (z_L - y) o sigma'_L for the lecture's loss)
    delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j,   j = L-1, ..., 1
    dL/dW_j = delta_j z_{j-1}^T

where o is the Hadamard product and delta_j = dL/da_j. In our row-batch layout (one example
per row, ``w_j = W_j^T``) the same lines are

    delta_L = dL/dz_L * sigma'_L(a_L)                              (B, n_L)
    delta_j = (delta_{j+1} @ w_{j+1}.T) * m_j * sigma'_j(a_j)        (B, n_j), m_j the dropout mask
    dL/dw_j = z_{j-1}.T @ delta_j,   dL/db_j = sum_rows(delta_j)

and the sum over the rows is the lecture's "don't forget to sum gradients over all other
samples". :func:`mlp_backward` is exactly these lines. The same gradients come out of the
generic recursion over blocks (:mod:`funcnn.backprop.serial`) applied to ``model.serial``;
the tests check the two against each other and against ``jax.grad``.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from funcnn.activations import get_activation
from funcnn.backprop.dense import dense_forward, dropout_forward
from funcnn.backprop.registry import register
from funcnn.models import MLP

Array = jnp.ndarray


class MLPCache(NamedTuple):
    """Everything the backward pass needs, one entry per layer (index j - 1 for layer j)."""

    z_prev: tuple  # L arrays (B, n_{j-1}): layer j's input z_{j-1} (after dropout); z_prev[0] = x
    a: tuple  # L arrays (B, n_j): pre-activations a_j = z_{j-1} @ w_j + b_j
    masks: tuple  # L - 1 entries (B, n_j) or None: inverted-dropout masks of the hidden layers


def check_mlp(model) -> MLP:
    """``model`` itself, or ``TypeError`` unless it is a dense network (:class:`funcnn.MLP`)."""
    if not isinstance(model, MLP):
        raise TypeError(
            f"model must be a funcnn MLP (from funcnn.models: mlp, perceptron, ...); "
            f"got {type(model).__name__}. Any other model: funcnn.backprop.forward/backward."
        )
    return model


def hidden_masks(model: MLP, key, batch: int, dtype) -> list:
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
            None each), e.g. from ``model.dropout_masks(key, B)``, or any fixed 0/1 masks.

    Returns:
        ``(z_L, cache)``: the output ``(B, n_L)`` (equal to ``model.apply``) and an
        :class:`MLPCache`.
    """
    check_mlp(model)
    model.check_params(params)
    model.check_input(x)
    L = model.n_layers
    if masks is None:
        masks = hidden_masks(model, key, x.shape[0], x.dtype)
    elif key is not None:
        raise ValueError("mlp_forward takes a dropout key or the masks, not both.")
    elif not isinstance(masks, (list, tuple)) or len(masks) != L - 1:
        raise ValueError(
            f"masks must list one mask (or None) per hidden layer ({L - 1}); got {masks!r:.80}."
        )
    z = x  # z_0 = x
    z_prev, pre = [], []
    for j in range(1, L + 1):
        z_prev.append(z)
        a, _ = dense_forward(params[j - 1], z)  # a_j = W_j z_{j-1} + b_j
        z = get_activation(model.layer_activations[j - 1]).f(a)  # z_j = sigma_j(a_j)
        if j < L:
            z, _ = dropout_forward(z, masks[j - 1])  # z_j <- z_j o m_j (hidden layers only)
        pre.append(a)
    return z, MLPCache(tuple(z_prev), tuple(pre), tuple(masks))


def mlp_backward(model: MLP, params, cache: MLPCache, dout: Array) -> tuple[list, Array, list]:
    """The lecture's delta recursion, from ``dout = dL/dz_L`` back to the input.

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
    check_mlp(model)
    L = model.n_layers
    if dout.shape != (cache.a[-1].shape[0], model.sizes[-1]):
        raise ValueError(
            f"dout must have the output's shape {(cache.a[-1].shape[0], model.sizes[-1])} "
            f"(batch, n_L); got {dout.shape}."
        )

    def sigma_prime(j):  # sigma'_j(a_j)
        return get_activation(model.layer_activations[j - 1]).df(cache.a[j - 1])

    def w(j):  # w_j = W_j^T, (n_{j-1}, n_j)
        return params[j - 1]["w"]

    delta = {L: dout * sigma_prime(L)}  # delta_L = dL/dz_L o sigma'_L
    grads = [None] * L
    for j in range(L, 0, -1):
        if j < L:
            W_T_delta = delta[j + 1] @ w(j + 1).T  # W_{j+1}^T delta_{j+1}, (B, n_j)
            m = cache.masks[j - 1]  # z_j was multiplied by m_j in the forward pass
            delta[j] = (W_T_delta if m is None else W_T_delta * m) * sigma_prime(j)  # delta_j
        dW = cache.z_prev[j - 1].T @ delta[j]  # dL/dW_j = delta_j z_{j-1}^T, in row form
        grads[j - 1] = {"w": dW, "b": jnp.sum(delta[j], axis=0)}  # dL/db_j = sum_rows delta_j
        chex.assert_equal_shape([delta[j], cache.a[j - 1]])
        chex.assert_equal_shape([dW, w(j)])
    dx = delta[1] @ w(1).T  # W_1^T delta_1 = dL/dz_0
    grads = type(params)(grads) if isinstance(params, (list, tuple)) else grads
    return grads, dx, [delta[j] for j in range(1, L + 1)]


def _forward(model: MLP, params, x, key):
    return mlp_forward(model, params, x, key)


def _backward(model: MLP, params, cache: MLPCache, dout):
    grads, dx, _ = mlp_backward(model, params, cache, dout)
    return grads, dx


register(MLP, _forward, _backward)
