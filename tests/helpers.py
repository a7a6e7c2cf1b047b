"""Helpers shared by the test modules.

Speed: a test computes everything it compares in one compiled program (:func:`once`); eager
float64 ops would compile one tiny program per op and shape.
"""

import chex
import jax
import jax.numpy as jnp
import pytest

from funcnn import gradcheck as gc


def once(fn, *args):
    """``fn(*args)`` as one compiled program."""
    return gc.compile_once(fn, *args)(*args)


def draws(seed: int, dtype=jnp.float64) -> gc.Draws:
    """Random numbers from ``jax.random.key(seed)`` (float64 needs ``jax.enable_x64``)."""
    return gc.Draws(jax.random.key(seed), dtype)


def close(a, b, rtol: float = 1e-12, atol: float = 1e-14) -> None:
    """Same tree structure, leaves equal to float64 rounding (or to the given tolerances)."""
    chex.assert_trees_all_equal_structs(a, b)
    chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


def jitted_once(fn):
    """``jax.jit(fn)`` that fails the test if it is traced more than once."""
    return jax.jit(chex.assert_max_traces(fn, n=1))


#: chex's with/without-jit variants as a pytest parameter: ``variant(fn)`` is ``fn`` compiled
#: (and traced only once) or ``fn`` run op by op.
VARIANTS = [pytest.param(jitted_once, id="jit"), pytest.param(lambda fn: fn, id="nojit")]
