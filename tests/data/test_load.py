"""funcnn.data.registry and the package: every set by name, with a validation split and
training-only standardization; every public name importable from funcnn.data."""

import importlib

import jax
import numpy as np
import pytest

import funcnn
from funcnn import data as D
from tests.data.helpers import SKLEARN_SIZES, SYNTHETIC_SIZES, check_dataset

SIZES = {**SYNTHETIC_SIZES, **SKLEARN_SIZES}


def test_dataset_names():
    assert set(D.DATASETS) == {*SIZES, "mnist1d"} and len(D.DATASETS) == len(SIZES) + 1


def test_public_names():
    assert sorted(D.__all__) == sorted(set(D.__all__))
    for name in D.__all__:
        assert getattr(D, name) is not None, name
    assert funcnn.data is D and D.one_hot is funcnn.ops.one_hot
    # the names the rest of the project imports from funcnn.data
    for name in ("Dataset", "load", "epoch_batches", "permutation", "make_linear", "standardize"):
        assert name in D.__all__
    for module in ("batches", "dataset", "mnist1d", "registry", "sklearn_sets", "splits"):
        assert importlib.import_module(f"funcnn.data.{module}").__doc__


@pytest.mark.parametrize("name", sorted(SIZES))
def test_load_sizes_and_seeds(name):
    ds = D.load(name, seed=3, standardize=False)
    check_dataset(ds, *SIZES[name])
    assert ds.name == name and ds.x_val is None and ds.y_val is None
    for a, b in zip(ds[:4], D.load(name, seed=3, standardize=False)[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    other = D.load(name, seed=4, standardize=False)
    assert np.array_equal(other.x_test, ds.x_test) == (name in ("xor", "attention"))
    # what load draws: the synthetic set from the first half of key(seed), the
    # scikit-learn split from key(seed) itself
    if name in D.SYNTHETIC:
        data_key = jax.random.split(jax.random.key(3))[0]
        expected = D.load_synthetic(name, data_key)
    else:
        expected = D.load_sklearn(name, seed=3)
    for a, b in zip(ds[:4], expected[:4], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["linear", "iris"])
def test_load_standardizes_after_validation_split(name):
    raw = D.load(name, seed=0, standardize=False, val_fraction=0.25)
    ds = D.load(name, seed=0, val_fraction=0.25)
    n, _, d, _ = SIZES[name]
    assert raw.x_val.shape == ds.x_val.shape == (round(n / 4), d)
    assert ds.x_train.shape == (n - round(n / 4), d)
    assert ds.x_val.dtype == np.float32 and ds.x_test.dtype == np.float32
    np.testing.assert_allclose(ds.x_train.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(0), 1.0, atol=1e-5)
    mean, std = raw.x_train.mean(0), raw.x_train.std(0)  # from the remaining training rows only
    np.testing.assert_allclose(ds.x_val, (raw.x_val - mean) / std, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std, rtol=1e-4, atol=1e-5)
    # targets untouched; train + val rows are exactly the unsplit training set
    unsplit = D.load(name, seed=0, standardize=False)
    np.testing.assert_array_equal(ds.y_val, raw.y_val)
    np.testing.assert_array_equal(ds.y_test, unsplit.y_test)
    joined = np.concatenate([raw.x_train, raw.x_val])
    np.testing.assert_array_equal(np.unique(joined, axis=0), np.unique(unsplit.x_train, axis=0))
    # the validation split is train_val_split with the second half of key(seed)
    val_key = jax.random.split(jax.random.key(0))[1]
    split = D.train_val_split(val_key, unsplit.x_train, unsplit.y_train, 0.25)
    for a, b in zip(split, (raw.x_train, raw.y_train, raw.x_val, raw.y_val), strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_mnist1d_reads_the_cache(mnist1d_cached, no_generation):
    cache, ds, _ = mnist1d_cached
    raw = D.load("mnist1d", cache_dir=cache, standardize=False)
    for a, b in zip(raw[:4], ds[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    full = D.load("mnist1d", cache_dir=cache, val_fraction=0.1, seed=5)
    assert full.x_train.shape == (3600, 40) and full.x_val.shape == (400, 40)
    split = D.load("mnist1d", cache_dir=cache, val_fraction=0.1, seed=5, standardize=False)
    mean, std = split.x_train.mean(0), split.x_train.std(0)
    np.testing.assert_allclose(full.x_test, (ds.x_test - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(full.y_test, ds.y_test)
    # seed changes only the validation split of the published set
    other = D.load("mnist1d", cache_dir=cache, val_fraction=0.1, seed=6, standardize=False)
    assert not np.array_equal(other.y_val, split.y_val)
    np.testing.assert_array_equal(other.x_test, split.x_test)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "mnist2d"}, r"unknown dataset 'mnist2d'; valid names are: .*iris.*xor"),
        ({"name": "xor", "val_fraction": 1.0}, r"val_fraction must be in \[0, 1\); got 1\.0"),
        ({"name": "xor", "val_fraction": -0.1}, r"val_fraction must be in \[0, 1\); got -0\.1"),
        ({"name": "xor", "val_fraction": 0.9}, r"val_fraction = 0\.9 of n = 4 .* no training"),
        ({"name": "xor", "seed": 1.0}, r"seed must be an integer; got 1\.0"),
        ({"name": "xor", "standardize": "yes"}, r"standardize must be True or False"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.load(**kwargs)
