"""Attention pooling (the digest, section 11).

Attention(q, D) = sum_i alpha(q, k_i) v_i over a database D = {(k_1, v_1), ..., (k_m, v_m)}.
Every pooling here returns the pooled values, and also the attention weights ``alpha`` when
``return_weights=True``. Shapes:

* queries ``(n_q,)`` or ``(n_q, d)``, keys ``(m,)`` or ``(m, d)``, values ``(m,)`` or
  ``(m, d_v)``; the weights are ``(n_q, m)`` and each row is a convex combination
  (alpha >= 0, sum_i alpha = 1), so the output lies in the convex hull of the values.
* :func:`dot_product_attention` also takes leading batch axes ``(..., n_q, d)``.

Pooling functions:

* :func:`average_pooling` — alpha = 1/m for every key.
* :func:`nadaraya_watson` — Gaussian kernel, alpha(q, k_i) = softmax_i(-(q - k_i)^2 / 2).
* :func:`parametric_nw_apply` — learnable bandwidth w: softmax_i(-((q - k_i) w)^2 / 2).
* :func:`dot_product_attention` — softmax_i(q . k_i / sqrt(d)), with a mask or valid lengths.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.ops import softmax

Array = jnp.ndarray


def attention_pool(weights: Array, values: Array) -> Array:
    """sum_i alpha_i v_i: weights ``(..., n_q, m)`` and values ``(..., m)`` or ``(..., m, d_v)``.

    Returns ``(..., n_q)`` or ``(..., n_q, d_v)`` matching the values' trailing shape.
    """
    checks.check_floating(weights, "weights")
    checks.check_floating(values, "values")
    if weights.ndim < 2:
        raise ValueError(f"weights must have shape (..., n_q, m); got {weights.shape}.")
    m = weights.shape[-1]
    lead = weights.shape[:-2]
    if values.shape[: len(lead)] != lead or values.ndim not in (len(lead) + 1, len(lead) + 2):
        raise ValueError(
            f"values must have shape {lead + (m,)} or {lead + (m, 'd_v')} for weights of shape "
            f"{weights.shape}; got {values.shape}."
        )
    if values.shape[len(lead)] != m:
        raise ValueError(
            f"values must hold m = {m} entries (one per key) on axis {len(lead)}; got shape {values.shape}."
        )
    if values.ndim == len(lead) + 1:
        return jnp.einsum("...qm,...m->...q", weights, values)
    return jnp.einsum("...qm,...mv->...qv", weights, values)


def _check_qkv_1d(queries, keys, values) -> None:
    checks.check_rank(queries, 1, "queries", "(n_q,) of scalar queries")
    checks.check_rank(keys, 1, "keys", "(m,) of scalar keys")
    checks.check_rank(values, (1, 2), "values", "(m,) or (m, d_v)")
    for a, n in ((queries, "queries"), (keys, "keys"), (values, "values")):
        checks.check_floating(a, n)
        checks.check_batch(a, n)
    if values.shape[0] != keys.shape[0]:
        raise ValueError(
            f"values must have one entry per key: keys has m = {keys.shape[0]}, "
            f"values has shape {values.shape}."
        )


def _result(pooled, weights, return_weights: bool):
    return (pooled, weights) if return_weights else pooled


def average_pooling(queries: Array, keys: Array, values: Array, *, return_weights: bool = False):
    """alpha(q, k_i) = 1/m for all i: every query gets the mean of the values."""
    _check_qkv_1d(queries, keys, values)
    m = keys.shape[0]
    weights = jnp.full((queries.shape[0], m), 1.0 / m, dtype=values.dtype)
    return _result(attention_pool(weights, values), weights, return_weights)


def gaussian_kernel_weights(queries: Array, keys: Array, w: Array | float = 1.0) -> Array:
    """alpha(q, k_i) = softmax_i(-((q - k_i) w)^2 / 2): ``(n_q,), (m,) -> (n_q, m)``.

    With w = 1 this is the Nadaraya–Watson Gaussian kernel exp(-(q - k)^2 / 2) normalized
    over the keys; a larger w narrows the kernel.
    """
    diff = (queries[:, None] - keys[None, :]) * w
    return softmax(-0.5 * diff * diff, axis=-1)


def nadaraya_watson(queries: Array, keys: Array, values: Array, *, return_weights: bool = False):
    """Nadaraya–Watson kernel regression with a Gaussian kernel:
    f(q) = sum_i softmax_i(-(q - k_i)^2 / 2) v_i."""
    _check_qkv_1d(queries, keys, values)
    weights = gaussian_kernel_weights(queries, keys, 1.0)
    return _result(attention_pool(weights, values), weights, return_weights)


def parametric_nw_init(key, dtype=jnp.float32) -> dict[str, Array]:
    """``{"w": ()}``: the bandwidth parameter, drawn from U(0, 1) as in the digest's setup."""
    return {"w": jax.random.uniform(key, (), dtype)}


def parametric_nw_apply(
    params: dict, queries: Array, keys: Array, values: Array, *, return_weights: bool = False
):
    """Parametric Nadaraya–Watson: f(q) = sum_i softmax_i(-((q - k_i) w)^2 / 2) v_i, with a
    learnable scalar ``params["w"]``."""
    _check_qkv_1d(queries, keys, values)
    w = params["w"]
    checks.check_rank(w, 0, "params['w']", "() — a scalar bandwidth")
    weights = gaussian_kernel_weights(queries, keys, w)
    return _result(attention_pool(weights, values), weights, return_weights)


def sequence_mask(valid_lens: Array, m: int) -> Array:
    """Boolean mask ``(..., m)``: True for key positions ``i < valid_len``."""
    positions = jnp.arange(m).reshape((1,) * valid_lens.ndim + (m,))
    return positions < valid_lens[..., None]


def dot_product_attention(
    queries: Array,
    keys: Array,
    values: Array,
    *,
    mask: Array | None = None,
    valid_lens: Array | None = None,
    return_weights: bool = False,
):
    """Scaled dot-product attention pooling: alpha(q, k_i) = softmax_i(q . k_i / sqrt(d)).

    Args:
        queries: ``(..., n_q, d)``.
        keys: ``(..., m, d)``.
        values: ``(..., m, d_v)``.
        mask: optional boolean ``(..., n_q, m)``; False positions get exactly zero weight.
        valid_lens: optional integers ``(...,)`` or ``(..., n_q)``: only the first
            ``valid_len`` keys are attended to (the digest's masked softmax).

    A query whose keys are all masked gets all-zero weights and a zero output (not NaN).

    Returns:
        ``(..., n_q, d_v)`` pooled values (and ``(..., n_q, m)`` weights on request).
    """
    for a, n in ((queries, "queries"), (keys, "keys"), (values, "values")):
        checks.check_floating(a, n)
        if a.ndim < 2:
            raise ValueError(f"{n} must have shape (..., n, feature); got {a.shape}.")
    lead = queries.shape[:-2]
    n_q, d = queries.shape[-2:]
    if keys.shape[:-2] != lead or keys.shape[-1] != d:
        raise ValueError(
            f"keys must have shape {lead + ('m', d)} to match queries {queries.shape}; got {keys.shape}."
        )
    m = keys.shape[-2]
    if values.shape[:-1] != lead + (m,) or values.ndim != queries.ndim:
        raise ValueError(
            f"values must have shape {lead + (m, 'd_v')} (one row per key); got {values.shape}."
        )
    if n_q == 0 or m == 0:
        raise ValueError(f"queries and keys must be non-empty; got n_q = {n_q}, m = {m}.")
    scores = jnp.einsum("...qd,...kd->...qk", queries, keys) / math.sqrt(d)
    keep = None
    if valid_lens is not None:
        checks.check_integer(valid_lens, "valid_lens")
        if valid_lens.shape == lead:
            vl = jnp.broadcast_to(valid_lens[..., None], lead + (n_q,))
        elif valid_lens.shape == lead + (n_q,):
            vl = valid_lens
        else:
            raise ValueError(
                f"valid_lens must have shape {lead} or {lead + (n_q,)}; got {valid_lens.shape}."
            )
        keep = sequence_mask(vl, m)
    if mask is not None:
        if mask.dtype != jnp.bool_:
            raise TypeError(f"mask must be boolean (True = attend); got dtype {mask.dtype}.")
        if mask.shape != lead + (n_q, m):
            raise ValueError(f"mask must have shape {lead + (n_q, m)}; got {mask.shape}.")
        keep = mask if keep is None else keep & mask
    if keep is None:
        weights = softmax(scores, axis=-1)
    else:
        neg = jnp.asarray(jnp.finfo(scores.dtype).min, scores.dtype)
        weights = softmax(jnp.where(keep, scores, neg), axis=-1)
        weights = jnp.where(keep, weights, jnp.zeros_like(weights))
    return _result(attention_pool(weights, values), weights, return_weights)
