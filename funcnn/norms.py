"""Vector norms of the digest (section 2) and the Frobenius norm of a parameter pytree."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from funcnn.checks import check_array


def l1(x: jnp.ndarray) -> jnp.ndarray:
    """||x||_1 = sum_i |x_i| (all elements of x)."""
    check_array(x, "x")
    return jnp.sum(jnp.abs(x))


def l2(x: jnp.ndarray) -> jnp.ndarray:
    """||x||_2 = sqrt(sum_i x_i^2) (all elements of x)."""
    check_array(x, "x")
    return jnp.sqrt(jnp.sum(x * x))


def lp(x: jnp.ndarray, p: float) -> jnp.ndarray:
    """||x||_p = (sum_i |x_i|^p)^(1/p), for p >= 1.

    The digest's eq. (1) writes x_i^p without the absolute value; that is only a norm for
    even p, so we use |x_i|^p, which is the standard definition.
    """
    check_array(x, "x")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= 1:
        raise ValueError(f"p must be a number >= 1 for ||x||_p to be a norm; got {p!r}.")
    return jnp.sum(jnp.abs(x) ** p) ** (1.0 / p)


def frobenius(tree) -> jnp.ndarray:
    """sqrt(sum over every leaf and element of x^2): the l2 norm of all parameters at once
    (the Frobenius norm for a single matrix; optax's global norm)."""
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError("frobenius: the pytree has no leaves.")
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in leaves))
