"""Shuffled minibatches: one permutation for every epoch, in Python or on device.

:func:`permutation` is the only source of example order: :func:`iterate_batches` (a Python
iterator), :func:`epoch_batches` (stacked batches for a ``jax.lax.scan`` epoch) and every
epoch of ``funcnn.train`` index the data with it, so the same key gives the same batches in
all three, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.checks import (
    check_batch_size,
    check_key,
    check_positive_int,
    check_same_batch,
    check_static,
)

_STATIC_FIX = (
    "pass it as a static argument, e.g. "
    "jax.jit(epoch_batches, static_argnames=('batch_size', 'drop_last'))"
)


def permutation_rounds(n: int) -> int:
    """How many sort rounds :func:`permutation` uses for ``n`` elements (see there).

    Each round leaves ``32 - ceil(log2 n)`` random bits per element; rounds are added until
    fewer than 1e-3 of the ``n (n - 1) / 2`` pairs are expected to tie in every round.
    """
    index_bits = max(1, math.ceil(math.log2(n)))
    random_bits = 32 - index_bits
    if random_bits < 8:
        raise ValueError(f"permutation supports n <= 2**24; got n = {n}.")
    # A pair keeps a non-random order only if it ties in every round: probability
    # 2^(-rounds * random_bits) per pair; keep the expected number of such pairs < 1e-3.
    pairs = n * (n - 1) / 2
    rounds = 1
    while pairs * 2.0 ** (-rounds * random_bits) > 1e-3:
        rounds += 1
    return rounds


def permutation(key, n: int) -> jax.Array:
    """A random permutation of ``range(n)`` (int32 ``(n,)``), fast under ``jax.vmap``.

    Like ``jax.random.permutation`` it sorts random keys, but it packs each element's
    random bits (high bits) and its current position (low ``ceil(log2 n)`` bits) into one
    ``uint32`` and sorts that single operand: XLA's CPU sort of one array is several times
    faster than the key-value sort, most of all for many runs at once (``fit_seeds``),
    where it dominated the epoch of small models. Elements whose random bits tie keep the
    previous round's (random) order; the number of rounds makes a pair that ties in every
    round improbable (fewer than 1e-3 such pairs expected), as ``jax.random.permutation``
    does with its own rounds.
    """
    n = check_positive_int(n, "n")
    index_bits = max(1, math.ceil(math.log2(n)))
    mask = jnp.uint32((1 << index_bits) - 1)
    position = jnp.arange(n, dtype=jnp.uint32)
    perm = position
    for r in range(permutation_rounds(n)):
        bits = jax.random.bits(jax.random.fold_in(key, r), (n,), jnp.uint32)
        order = jnp.sort((bits & ~mask) | position) & mask  # sort by bits, ties by position
        perm = perm[order]
    return perm.astype(jnp.int32)


def iterate_batches(key, x, y, batch_size: int, drop_last: bool = True) -> Iterator[tuple]:
    """Minibatches of one epoch in the random order :func:`permutation` ``(key, n)``.

    Pass a fresh key each epoch (e.g. ``jax.random.fold_in(key, epoch)``) to reshuffle.
    ``batch_size = 1`` is single-sample SGD, ``batch_size = n`` full-batch gradient descent.
    When ``n % batch_size != 0`` the last, smaller batch is dropped (``drop_last=True``) or
    yielded (``drop_last=False``, so every example appears exactly once per epoch). Batch
    ``i`` equals batch ``i`` of :func:`epoch_batches` for the same key.

    Arguments are checked when this is called, before the first batch is requested.

    Yields:
        ``(x_batch, y_batch)`` rows of ``x`` and ``y`` (same array type as the inputs).
    """
    check_key(key)
    n = check_same_batch(x, y, "x", "y")
    batch_size = check_batch_size(batch_size, n)
    perm = np.asarray(permutation(key, n))
    stop = n - n % batch_size if drop_last else n

    def batches():
        for start in range(0, stop, batch_size):
            idx = perm[start : start + batch_size]
            yield x[idx], y[idx]

    return batches()


def epoch_batches(key, x, y, batch_size: int, drop_last: bool = True):
    """One epoch's shuffled minibatches stacked for ``jax.lax.scan``.

    Jit-able with ``batch_size`` and ``drop_last`` static, e.g.
    ``jax.jit(epoch_batches, static_argnames=("batch_size", "drop_last"))``. Uses the same
    permutation :func:`permutation` ``(key, n)`` as :func:`iterate_batches` (and as every
    epoch of ``funcnn.train``).

    Partial last batch (``n % batch_size = r > 0``):

    * ``drop_last=True``: the ``r`` examples left over are not used this epoch (a fresh
      permutation next epoch drops different ones). Returns ``(xb, yb)``.
    * ``drop_last=False``: the last batch is padded to full size with the first
      ``batch_size - r`` examples of the permutation and a mask marks the real entries.
      Returns ``(xb, yb, mask)`` with ``mask`` bool ``(n_batches, batch_size)``; the True
      entries hold every example exactly once. A step that computes
      ``sum(mask * loss_i) / sum(mask)`` gets exactly the unpadded batch's mean loss. The
      mask is returned (all True) even when ``r = 0``, so the output structure depends only
      on ``drop_last``.

    Args:
        key: a ``jax.random.key``.
        x: ``(n, ...)`` inputs.
        y: ``(n, ...)`` targets.
        batch_size: ``B``, ``1 <= B <= n`` (static).
        drop_last: see above (static).

    Returns:
        ``xb (n_batches, B, ...)``, ``yb (n_batches, B, ...)`` as jax arrays
        (``n_batches = n // B`` or ``ceil(n / B)``), and ``mask`` when ``drop_last=False``.
    """
    check_key(key)
    for name, value in (("batch_size", batch_size), ("drop_last", drop_last)):
        check_static(value, name, fix=_STATIC_FIX)
    n = check_same_batch(x, y, "x", "y")
    batch_size = check_batch_size(batch_size, n)
    perm = permutation(key, n)
    if drop_last:
        n_batches = n // batch_size
        idx = perm[: n_batches * batch_size].reshape(n_batches, batch_size)
        return jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0)
    n_batches = -(-n // batch_size)
    pad = n_batches * batch_size - n
    idx = jnp.concatenate([perm, perm[:pad]]).reshape(n_batches, batch_size)
    mask = (jnp.arange(n_batches * batch_size) < n).reshape(n_batches, batch_size)
    return jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0), mask
