"""Fixtures of the data tests: MNIST-1D generated once per session, and a stand-in generator."""

import random

import numpy as np
import pytest

import funcnn.data.mnist1d as mnist1d_module
from funcnn import data as D
from tests.data.helpers import arrays_of


@pytest.fixture(scope="session")
def mnist1d_cached(tmp_path_factory):
    """Generate MNIST-1D once for the session into a temporary cache folder.

    Returns ``(cache_dir, dataset, rng_untouched)``; the last says whether generating left
    numpy's and Python's global generators where they were.
    """
    cache = tmp_path_factory.mktemp("funcnn_cache")
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.rand(3), random.random())
    np.random.seed(123)
    random.seed(123)
    ds = D.load_mnist1d(cache_dir=cache, verbose=False)
    after = (np.random.rand(3), random.random())
    rng_untouched = np.array_equal(after[0], expected[0]) and after[1] == expected[1]
    return cache, ds, rng_untouched


@pytest.fixture
def fake_generator(mnist1d_cached, monkeypatch):
    """Replace the MNIST-1D generator by one that returns the session's arrays at once.

    The fixture's value is the list of seeds it was called with.
    """
    _, ds, _ = mnist1d_cached
    calls = []

    def fake(seed, **dataset_args):
        calls.append(seed)
        return {k: np.array(v) for k, v in arrays_of(ds).items()}

    monkeypatch.setattr(mnist1d_module, "generate_mnist1d", fake)
    return calls


@pytest.fixture
def no_generation(monkeypatch):
    """Fail the test if MNIST-1D is generated (a valid cache exists)."""

    def fail(*args, **kwargs):
        raise AssertionError("MNIST-1D was regenerated although a valid cache exists")

    monkeypatch.setattr(mnist1d_module, "generate_mnist1d", fail)
