"""Forward and backward of the blocks of a dense network, written by hand.

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

from typing import NamedTuple

import chex
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import get_activation
from funcnn.backprop.registry import register
from funcnn.blocks import Act, Dense, Dropout
from funcnn.layers import append_ones, check_dense_input

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
    chex.assert_equal_shape([dw, w])
    chex.assert_equal_shape([dz_prev, cache.z_prev])
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
    return dz * get_activation(name).df(cache.a)  # delta = dz o sigma'(a)


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


# --- the blocks' registered pairs ------------------------------------------------------------


def _dense_block_forward(block: Dense, params, x, key):
    """Dense on ``(B, ..., n_in)``: the leading axes are rows of one matrix product."""
    block.check_params(params)
    a, cache = dense_forward(params, x.reshape(-1, block.n_in))  # (B * ..., n_out)
    return a.reshape((*x.shape[:-1], block.n_out)), cache


def _dense_block_backward(block: Dense, params, cache: DenseCache, delta):
    grads, dz_prev = dense_backward(params, cache, delta.reshape(-1, block.n_out))
    return grads, dz_prev.reshape((*delta.shape[:-1], block.n_in))


def _act_forward(block: Act, params, a, key):
    return activation_forward(block.name, a)


def _act_backward(block: Act, params, cache: ActivationCache, dz):
    return (), activation_backward(block.name, cache, dz)


def _dropout_forward(block: Dropout, params, z, key):
    mask = None if key is None else block.mask(key, z.shape, z.dtype)
    return dropout_forward(z, mask)


def _dropout_backward(block: Dropout, params, mask, dout):
    return (), dropout_backward(mask, dout)


register(Dense, _dense_block_forward, _dense_block_backward)
register(Act, _act_forward, _act_backward)
register(Dropout, _dropout_forward, _dropout_backward)
