"""softmax, log_softmax, one_hot and parameter counting."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.checks import check_floating, check_labels, check_positive_int, check_sizes


def log_softmax(o: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    """log softmax(o)_j = o_j - log sum_k exp(o_k), via log-sum-exp with the max subtracted.

    Subtracting m = max_k o_k leaves the value unchanged and keeps every exp(o_k - m) <= 1,
    so logits of size 1e4 neither overflow nor produce NaN.
    """
    check_floating(o, "o")
    m = jax.lax.stop_gradient(jnp.max(o, axis=axis, keepdims=True))
    shifted = o - m
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def softmax(o: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    """softmax(o)_j = exp(o_j) / sum_k exp(o_k) (the digest, section 4), computed stably."""
    check_floating(o, "o")
    m = jax.lax.stop_gradient(jnp.max(o, axis=axis, keepdims=True))
    e = jnp.exp(o - m)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def one_hot(labels: jnp.ndarray, n_classes: int, dtype=jnp.float32) -> jnp.ndarray:
    """One-hot encoding (the digest, section 4): labels ``(...,)`` -> ``(..., n_classes)``.

    Labels must be integers; on concrete arrays they must lie in ``[0, n_classes)``.
    """
    n_classes = check_positive_int(n_classes, "n_classes")
    check_labels(labels, n_classes, "labels")
    classes = jnp.arange(n_classes).reshape((1,) * labels.ndim + (n_classes,))
    return (labels[..., None] == classes).astype(dtype)


def param_count(params) -> int:
    """Number of scalars in a parameter pytree: the sum of its leaves' sizes."""
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))


def mlp_param_count(sizes: Sequence[int]) -> int:
    """N = sum_{l=1}^{L} n_l (n_{l-1} + 1) for an MLP with layer sizes n_0, ..., n_L.

    The math paper's count: each of the n_l units of layer l has n_{l-1} weights and one bias.
    """
    sizes = check_sizes(sizes)
    return sum(n_l * (n_prev + 1) for n_prev, n_l in zip(sizes[:-1], sizes[1:]))
