"""Shared test configuration.

* Rank promotion raises: an implicit broadcast such as (n,) + (batch, n) is a bug here.
* Hypothesis runs deterministically and without deadlines (XLA compiles break deadlines).
* float64 checks use ``with jax.enable_x64(True):`` inside the test, never globally.
* The suite compiles cold and leaves the user's compilation cache alone: the commands it
  runs (in this process or in subprocesses) keep JAX's persistent cache off unless a test
  switches it on (``FUNCNN_COMPILE_CACHE``, see funcnn.compile_cache).
"""

import os

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
os.environ["FUNCNN_COMPILE_CACHE"] = "off"

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "funcnn",
        derandomize=True,
        deadline=None,
        max_examples=25,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile("funcnn")
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass


@pytest.fixture
def key():
    return jax.random.key(0)
