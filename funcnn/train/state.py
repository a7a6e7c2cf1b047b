"""The training state and the keys derived from it.

Everything a run needs to continue is in :class:`TrainState`: the params, the optax state,
the number of updates made and the run's root key. Per-step dropout keys and per-epoch
shuffling keys are *derived* from the root key and the step/epoch number with
``jax.random.fold_in``, so a run resumed from a checkpoint draws exactly the numbers the
uninterrupted run would have drawn.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

# Independent streams derived from a run's root key.
_DROPOUT_STREAM = 0
_SHUFFLE_STREAM = 1


class TrainState(NamedTuple):
    """State of one training run (a pytree; stack it for many runs).

    Attributes:
        params: the model's parameter pytree, e.g. ``[{"w": (n_in, n_out), "b": (n_out,)}]``.
        opt_state: the optax state of ``optimizer.init(params)``.
        step: ``()`` int32, number of updates made so far (``k``).
        key: ``()`` typed PRNG key, the run's root key for dropout and shuffling.
    """

    params: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array


def seed_key(seed) -> jax.Array:
    """``jax.random.key(seed)`` with a check that ``seed`` is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")
    return jax.random.key(seed)


def init_state(
    model, optimizer: optax.GradientTransformation, key, dtype=jnp.float32
) -> TrainState:
    """Initialize params from ``key`` and the optimizer state from the params.

    The key is split by name into ``init_key`` (params) and ``run_key`` (stored in the
    state for dropout and shuffling). ``fit(..., seed=s)`` uses ``key = jax.random.key(s)``.
    """
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        raise TypeError(f"key must be a typed key from jax.random.key(seed); got {key!r:.60}.")
    init_key, run_key = jax.random.split(key)
    params = model.init(init_key, dtype)
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32), run_key)


def dropout_key(run_key: jax.Array, step) -> jax.Array:
    """The dropout key of update ``step`` of a run."""
    return jax.random.fold_in(jax.random.fold_in(run_key, _DROPOUT_STREAM), step)


def shuffle_key(run_key: jax.Array, epoch) -> jax.Array:
    """The key that permutes the training set in epoch ``epoch`` (0-based) of a run."""
    return jax.random.fold_in(jax.random.fold_in(run_key, _SHUFFLE_STREAM), epoch)


def data_shuffle_key(data_seed: int, epoch) -> jax.Array:
    """The key that permutes the training set in epoch ``epoch`` when the data order is set
    by ``data_seed`` rather than by each run's seed (shared by all runs of ``fit_seeds``)."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(data_seed), _SHUFFLE_STREAM), epoch)
