"""Losses and penalties of the notes. Every loss is a scalar averaged over the batch axis
(except ``sum_squared_error``, which sums, as its name says).

Conventions: predictions come first, targets second; predictions and targets must have the
same shape (nothing is broadcast: a ``(batch,)`` target against a ``(batch, 1)`` prediction is
an error, not an ``(batch, batch)`` matrix). Pass ``check_finite=True`` to fail loudly on NaN or
inf inputs instead of returning a NaN loss.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.ops import log_softmax

Array = jnp.ndarray


def _prepare(y_hat, y, name_hat: str, name_y: str, check_finite: bool) -> int:
    checks.check_floating(y_hat, name_hat)
    checks.check_floating(y, name_y)
    n = checks.check_same_batch(y_hat, y, name_hat, name_y)
    checks.check_same_shape(y_hat, y, name_hat, name_y)
    if check_finite:
        checks.check_finite(y_hat, name_hat)
        checks.check_finite(y, name_y)
    return n


def _per_example_sum(a: Array) -> Array:
    """Sum over every axis but the batch axis: (batch, ...) -> (batch,)."""
    return jnp.sum(a.reshape(a.shape[0], -1), axis=1)


def mse(y_hat: Array, y: Array, *, check_finite: bool = False) -> Array:
    """Mean squared error with the 1/2 factor (the digest, eqs. 6-7).

    L = (1/n) sum_i (1/2) ||y_hat^(i) - y^(i)||^2, summing over output dimensions.

    Args:
        y_hat: predictions, ``(batch, ...)``.
        y: targets, same shape as ``y_hat``.
    """
    n = _prepare(y_hat, y, "y_hat", "y", check_finite)
    r = y_hat - y
    return 0.5 * jnp.sum(r * r) / n


def sum_squared_error(y_hat: Array, y: Array, *, check_finite: bool = False) -> Array:
    """Summed squared error sum_i ||y^(i) - y_hat^(i)||^2 (the lecture's ERM loss, eq. 1).

    The lecture's empirical risk (eq. 2) is this sum divided by N; its per-sample gradient
    2 (z_J - y) is the start of the delta recursion.
    """
    _prepare(y_hat, y, "y_hat", "y", check_finite)
    r = y - y_hat
    return jnp.sum(r * r)


def softmax_cross_entropy(logits: Array, labels: Array, *, check_finite: bool = False) -> Array:
    """Cross-entropy of softmax(logits) against labels, averaged over the batch.

    l(y, o) = log sum_k exp(o_k) - sum_j y_j o_j (the digest, section 4), evaluated with
    log-sum-exp so logits of size 1e4 stay finite.

    Args:
        logits: ``(batch, n_classes)`` unnormalized scores o.
        labels: integer class indices ``(batch,)`` in ``[0, n_classes)``, or float targets
            ``(batch, n_classes)`` (one-hot or any distribution over classes).
    """
    checks.check_floating(logits, "logits")
    checks.check_rank(logits, 2, "logits", "(batch, n_classes)")
    n = checks.check_batch(logits, "logits")
    q = logits.shape[1]
    logp = log_softmax(logits, axis=-1)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        checks.check_rank(labels, 1, "labels", "(batch,) of integer class indices")
        checks.check_same_batch(logits, labels, "logits", "labels")
        checks.check_labels(labels, q, "labels")
        picked = jnp.take_along_axis(logp, labels[:, None], axis=1)[:, 0]
        nll = -picked
    else:
        checks.check_same_shape(logits, labels, "logits", "labels (one-hot targets)")
        if check_finite:
            checks.check_finite(labels, "labels")
        nll = -jnp.sum(labels * logp, axis=1)
    if check_finite:
        checks.check_finite(logits, "logits")
    return jnp.sum(nll) / n


def binary_cross_entropy(logits: Array, y: Array, *, check_finite: bool = False) -> Array:
    """Binary cross-entropy of sigmoid(logits) against targets y in [0, 1], batch mean.

    l = -y log sigmoid(o) - (1 - y) log(1 - sigmoid(o)) = max(o, 0) - o y + log(1 + e^{-|o|}),
    the right-hand form being finite for any o (logits of 1e4 included).
    """
    n = _prepare(logits, y, "logits", "y", check_finite)
    per = jnp.maximum(logits, 0.0) - logits * y + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return jnp.sum(per) / n


# --- penalties ---------------------------------------------------------------------------


def weights_only(path, leaf) -> bool:
    """Default leaf selector for penalties: leaves whose last key is ``"w"`` or starts with
    ``"w_"`` (a recurrent cell's ``w_x``, ``w_h``): weights, not biases or initial states."""
    last = path[-1] if path else None
    key = getattr(last, "key", getattr(last, "name", None))
    return isinstance(key, str) and (key == "w" or key.startswith("w_"))


def select_leaves(params, select: Callable = weights_only) -> list[Array]:
    """Leaves of ``params`` for which ``select(path, leaf)`` is true."""
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return [leaf for path, leaf in flat if select(path, leaf)]


def l2_penalty(params, select: Callable = weights_only) -> Array:
    """(1/2) ||w||_2^2 summed over the selected leaves (weights, not biases, by default).

    Adding lambda times this to the loss gives the weight-decay gradient lambda w
    (the digest, section 3, "Norms & Weight Decay").
    """
    leaves = select_leaves(params, select)
    if not leaves:
        raise ValueError("l2_penalty: select matched no leaf of params; nothing to penalize.")
    return 0.5 * sum(jnp.sum(w * w) for w in leaves)


def l1_penalty(params, select: Callable = weights_only) -> Array:
    """||w||_1 summed over the selected leaves (the math paper, section 6.1.1, LASSO)."""
    leaves = select_leaves(params, select)
    if not leaves:
        raise ValueError("l1_penalty: select matched no leaf of params; nothing to penalize.")
    return sum(jnp.sum(jnp.abs(w)) for w in leaves)


LOSSES: dict[str, Callable] = {
    "mse": mse,
    "sum_squared_error": sum_squared_error,
    "softmax_cross_entropy": softmax_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
}


def get_loss(name: str) -> Callable:
    """Look up a loss by name; ``ValueError`` lists the valid names."""
    checks.check_choice(name, LOSSES, "loss")
    return LOSSES[name]
