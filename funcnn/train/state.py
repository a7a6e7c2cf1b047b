"""The training state and the keys derived from it.

Everything a run needs to continue is in :class:`TrainState`: the params, the optax state,
the number of updates made and the run's root key. Per-step dropout keys and per-epoch
shuffling keys are *derived* from the root key and the step/epoch number with
``jax.random.fold_in``, so a run resumed from a checkpoint draws exactly the numbers the
uninterrupted run would have drawn.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcnn import checks

# Independent streams derived from a run's root key.
_DROPOUT_STREAM = 0
_SHUFFLE_STREAM = 1
_AUGMENT_STREAM = 2


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
    return jax.random.key(checks.check_nonnegative_int(seed, "seed"))


@functools.lru_cache(maxsize=64)
def _init_program(model, dtype_name: str):
    """``key -> (params, run_key)``, plain and compiled once per model.

    Compiled at XLA's lowest backend optimization level: the program runs once per run,
    and its random-number kernels (threefry, one per weight shape) otherwise take seconds
    to compile on a CPU. Every run of ``fit`` and ``fit_seeds`` draws its params here.
    """
    dtype = jnp.dtype(dtype_name)

    def init(key):
        init_key, run_key = jax.random.split(key)
        return model.init(init_key, dtype), run_key

    jitted = jax.jit(init, compiler_options={"xla_backend_optimization_level": 0})
    return init, jitted


def init_params(model, key, dtype=jnp.float32):
    """``(params, run_key)``: ``key`` split by name into ``init_key``, from which
    ``model.init(init_key, dtype)`` draws the params, and ``run_key``."""
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        raise TypeError(f"key must be a typed key from jax.random.key(seed); got {key!r:.60}.")
    init, jitted = _init_program(model, jnp.dtype(dtype).name)
    # Inside a trace (jax.eval_shape, an enclosing jit) the plain function is traced instead.
    return init(key) if isinstance(key, jax.core.Tracer) else jitted(key)


def init_state(
    model, optimizer: optax.GradientTransformation, key, dtype=jnp.float32
) -> TrainState:
    """Initialize params from ``key`` and the optimizer state from the params.

    The key is split by name into ``init_key`` (params: ``model.init(init_key)``, compiled,
    see :func:`init_params`) and ``run_key`` (stored in the state for dropout and
    shuffling). ``fit(..., seed=s)`` uses ``key = jax.random.key(s)``.
    """
    params, run_key = init_params(model, key, dtype)
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32), run_key)


def dropout_key(run_key: jax.Array, step) -> jax.Array:
    """The dropout key of update ``step`` of a run."""
    return jax.random.fold_in(jax.random.fold_in(run_key, _DROPOUT_STREAM), step)


def augment_key(run_key: jax.Array, step) -> jax.Array:
    """The key of update ``step``'s data augmentation (``RunConfig.augment``)."""
    return jax.random.fold_in(jax.random.fold_in(run_key, _AUGMENT_STREAM), step)


def shuffle_key(run_key: jax.Array, epoch) -> jax.Array:
    """The key that permutes the training set in epoch ``epoch`` (0-based) of a run."""
    return jax.random.fold_in(jax.random.fold_in(run_key, _SHUFFLE_STREAM), epoch)


def data_shuffle_key(data_seed: int, epoch) -> jax.Array:
    """The key that permutes the training set in epoch ``epoch`` when the data order is set
    by ``data_seed`` rather than by each run's seed (shared by all runs of ``fit_seeds``)."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(data_seed), _SHUFFLE_STREAM), epoch)
