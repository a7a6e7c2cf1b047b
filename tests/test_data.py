"""Tests of funcnn.data: synthetic sets, MNIST-1D cache, sklearn sets, splits and batches."""

import importlib.metadata
import os
import random
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcnn import data as D

KEY = jax.random.key(0)

SYNTHETIC_SIZES = {  # name: (n_train, n_test, d, n_classes)
    "linear": (1000, 1000, 2, None),
    "polynomial": (100, 100, 21, None),
    "attention": (50, 50, 1, None),
    "xor": (4, 4, 2, 2),
    "blobs": (200, 200, 2, 2),
    "high_dim": (20, 100, 200, None),
}
SKLEARN_SIZES = {
    "digits": (1438, 359, 64, 10),
    "iris": (120, 30, 4, 3),
    "breast_cancer": (456, 113, 30, 2),
    "diabetes": (354, 88, 10, None),
}

# one compiled epoch_batches per static configuration, shared by the tests
epoch_batches_jit = jax.jit(D.epoch_batches, static_argnames=("batch_size", "drop_last"))


def check_dataset(ds, n_train, n_test, d, n_classes):
    assert ds.x_train.shape == (n_train, d) and ds.x_test.shape == (n_test, d)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert isinstance(ds.x_train, np.ndarray) and isinstance(ds.y_train, np.ndarray)
    assert ds.n_classes == n_classes
    if n_classes is None:
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (n_train, 1)
        assert ds.y_test.dtype == np.float32 and ds.y_test.shape == (n_test, 1)
    else:
        assert ds.y_train.dtype == np.int32 and ds.y_train.shape == (n_train,)
        assert ds.y_test.dtype == np.int32 and ds.y_test.shape == (n_test,)
        assert ds.y_train.min() >= 0 and ds.y_train.max() == n_classes - 1
    assert np.all(np.isfinite(ds.x_train)) and np.all(np.isfinite(ds.x_test))


def test_dataset_names():
    assert set(D.DATASETS) == {*SYNTHETIC_SIZES, *SKLEARN_SIZES, "mnist1d"}


# ------------------------------------------------------------------ synthetic sets


@pytest.mark.parametrize("name", sorted(SYNTHETIC_SIZES))
def test_synthetic_load_shapes_and_determinism(name):
    ds = D.load(name, seed=3, standardize=False)
    check_dataset(ds, *SYNTHETIC_SIZES[name])
    assert ds.name == name and ds.x_val is None and ds.y_val is None
    again = D.load(name, seed=3, standardize=False)
    for a, b in zip(ds[:4], again[:4]):
        np.testing.assert_array_equal(a, b)
    other = D.load(name, seed=4, standardize=False)
    if name == "xor":  # no randomness at all
        np.testing.assert_array_equal(other.x_train, ds.x_train)
    else:
        assert not np.array_equal(other.x_train, ds.x_train)


def test_linear_noise_std_and_truth():
    w, b = np.array([2.0, -3.4]), 4.2
    X, y = D.make_linear(KEY, n=20000)
    assert X.shape == (20000, 2) and y.shape == (20000, 1) and X.dtype == np.float32
    eps = y[:, 0].astype(np.float64) - (X.astype(np.float64) @ w + b)
    # sample std of 20000 N(0, 0.01^2) draws: relative standard error 0.5%
    assert abs(eps.std() - 0.01) < 0.0005
    assert abs(eps.mean()) < 0.0005
    # features are N(0, I)
    np.testing.assert_allclose(X.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(X.std(0), 1.0, atol=0.03)
    X0, y0 = D.make_linear(KEY, n=100, w=(1.0, 2.0, 3.0), b=-1.0, noise=0.0)
    np.testing.assert_allclose(y0[:, 0], X0 @ np.array([1.0, 2.0, 3.0]) - 1.0, atol=1e-5)
    # same key, same data; another key, other data
    np.testing.assert_array_equal(D.make_linear(KEY, n=20000)[1], y)
    assert not np.array_equal(D.make_linear(jax.random.key(1), n=20000)[1], y)


def test_polynomial_features_formula():
    x = np.array([-1.5, 0.0, 2.0])
    f = D.polynomial_features(x, 4)
    assert f.shape == (3, 5) and f.dtype == np.float32
    want = np.stack([x**0, x, x**2 / 2, x**3 / 6, x**4 / 24], axis=1)
    np.testing.assert_allclose(f, want, rtol=1e-6)
    np.testing.assert_allclose(D.polynomial_features(x[:, None], 4), want, rtol=1e-6)
    fj = D.polynomial_features(jnp.asarray(x, jnp.float32), 4)
    assert isinstance(fj, jax.Array)
    np.testing.assert_allclose(np.asarray(fj), want, rtol=1e-6)
    assert D.polynomial_features(x, 0).shape == (3, 1)


def test_polynomial_set_follows_d2l():
    ds = D.make_polynomial(KEY, n_train=2000, n_test=100)
    assert ds.x_train.shape == (2000, 21)
    x = ds.x_train[:, 1].astype(np.float64)  # column 1 is x itself
    np.testing.assert_allclose(ds.x_train[:, 5], x**5 / 120, rtol=1e-5, atol=1e-7)
    truth = 5 + 1.2 * x - 3.4 * x**2 / 2 + 5.6 * x**3 / 6
    eps = ds.y_train[:, 0] - truth
    assert abs(eps.std() - 0.1) < 0.006 and abs(eps.mean()) < 0.006


def test_attention_set():
    ds = D.make_attention(KEY)
    x = ds.x_train[:, 0]
    assert ds.x_train.shape == (50, 1) and np.all(np.diff(x) >= 0)
    assert x.min() >= 0 and x.max() < 5
    np.testing.assert_allclose(ds.x_test[:, 0], np.arange(50) * 0.1, atol=1e-6)
    f = lambda t: 2 * np.sin(t) + t**0.8
    np.testing.assert_allclose(ds.y_test[:, 0], f(ds.x_test[:, 0].astype(np.float64)), atol=1e-5)
    big = D.make_attention(KEY, n_train=5000)
    eps = big.y_train[:, 0] - f(big.x_train[:, 0].astype(np.float64))
    assert abs(eps.std() - 0.5) < 0.03


def test_xor_labels():
    X, y = D.make_xor()
    assert X.dtype == np.float32 and y.dtype == np.int32
    assert {tuple(r) for r in X.tolist()} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    np.testing.assert_array_equal(y, (X[:, 0] != X[:, 1]).astype(np.int32))


def perceptron_mistakes(X, y, max_epochs):
    """Rosenblatt's perceptron with bias in numpy; returns mistakes in the last epoch."""
    Xa = np.concatenate([X, np.ones((len(X), 1), X.dtype)], axis=1).astype(np.float64)
    s = 2.0 * y - 1.0
    w = np.zeros(Xa.shape[1])
    for _ in range(max_epochs):
        mistakes = 0
        for xi, si in zip(Xa, s):
            if si * (xi @ w) <= 0:
                w += si * xi
                mistakes += 1
        if mistakes == 0:
            return 0
    return mistakes


@pytest.mark.parametrize("d, margin", [(2, 0.5), (5, 0.2)])
def test_blobs_separable_with_margin(d, margin):
    X, y, u = D.make_blobs(KEY, 301, d=d, margin=margin, return_direction=True)
    assert X.shape == (301, d) and y.dtype == np.int32 and set(np.unique(y)) == {0, 1}
    assert np.bincount(y).tolist() == [150, 151]
    np.testing.assert_allclose(np.linalg.norm(u), 1.0, rtol=1e-6)
    assert np.min((2 * y - 1) * (X @ u)) >= margin / 2 - 1e-6
    # independently of u: the perceptron finds a separating plane (it cannot on XOR)
    assert perceptron_mistakes(X, y, max_epochs=200) == 0
    Xx, yx = D.make_xor()
    assert perceptron_mistakes(Xx, yx, max_epochs=200) > 0
    # the push towards the margin really happens: without it points would cross the plane
    X2, y2 = D.make_blobs(KEY, 301, d=d, margin=margin, distance=0.0)
    assert np.min((2 * y2 - 1) * (X2 @ u)) >= margin / 2 - 1e-6


def test_high_dim_set():
    ds = D.make_high_dim(KEY)
    check_dataset(ds, 20, 100, 200, None)
    big = D.make_high_dim(KEY, n_train=20, n_test=5000)
    eps = big.y_test[:, 0] - (0.01 * big.x_test.astype(np.float64).sum(1) + 0.05)
    assert abs(eps.std() - 0.01) < 0.001


# ------------------------------------------------------------------ scikit-learn sets


@pytest.mark.parametrize("name", sorted(SKLEARN_SIZES))
def test_sklearn_sets(name):
    raw = D.load(name, seed=0, standardize=False)
    check_dataset(raw, *SKLEARN_SIZES[name])
    again = D.load(name, seed=0, standardize=False)
    np.testing.assert_array_equal(raw.x_test, again.x_test)
    other = D.load(name, seed=1, standardize=False)
    assert not np.array_equal(raw.x_test, other.x_test)
    # train and test partition the bundled set
    from sklearn import datasets

    full = getattr(datasets, f"load_{name}")().data.astype(np.float32)
    rows = np.concatenate([raw.x_train, raw.x_test])
    np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(full, axis=0))
    assert len(rows) == len(full)
    # standardized with training statistics only
    ds = D.load(name, seed=0)
    mean, std = raw.x_train.mean(0), raw.x_train.std(0)
    std = np.where(std > 0, std, 1)
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std, rtol=1e-4, atol=1e-4)


def test_iris_split_is_stratified():
    ds = D.load("iris", standardize=False)
    assert np.bincount(ds.y_test).tolist() == [10, 10, 10]


# ------------------------------------------------------------------ standardization


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, (200, 3)).astype(np.float32)
    x_test = rng.normal(-1.0, 5.0, (50, 3)).astype(np.float32)
    x_train[:, 2] = 7.0  # constant feature: std taken as 1, output 0, no NaN
    tr, te = D.standardize(x_train, x_test)
    np.testing.assert_allclose(tr[:, :2].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(tr[:, :2].std(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(tr[:, 2], 0.0)
    mean, std = D.fit_standardizer(x_train)
    np.testing.assert_allclose(te, (x_test - mean) / std, rtol=1e-6)
    # the test set does not end up with its own statistics
    assert np.all(np.abs(te[:, :2].mean(0)) > 1.0)
    assert np.all(np.isfinite(te))
    # the result does not depend on the test data at all
    tr2, te2 = D.standardize(x_train, x_test * 100)
    np.testing.assert_array_equal(tr, tr2)
    # jax arrays in, jax arrays out
    (trj,) = D.standardize(jnp.asarray(x_train))
    assert isinstance(trj, jax.Array)
    np.testing.assert_allclose(np.asarray(trj), tr, atol=1e-5)


def test_load_standardizes_after_validation_split():
    raw = D.load("linear", seed=0, standardize=False, val_fraction=0.25)
    ds = D.load("linear", seed=0, val_fraction=0.25)
    assert raw.x_val.shape == (250, 2) and ds.x_train.shape == (750, 2)
    assert ds.x_val.dtype == np.float32
    np.testing.assert_allclose(ds.x_train.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(0), 1.0, atol=1e-5)
    mean, std = raw.x_train.mean(0), raw.x_train.std(0)  # from the 750 training rows only
    np.testing.assert_allclose(ds.x_val, (raw.x_val - mean) / std, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std, rtol=1e-4, atol=1e-5)
    # targets untouched; train + val rows are exactly the unsplit training set
    unsplit = D.load("linear", seed=0, standardize=False)
    np.testing.assert_array_equal(ds.y_val, raw.y_val)
    joined = np.concatenate([raw.x_train, raw.x_val])
    np.testing.assert_array_equal(np.unique(joined, axis=0), np.unique(unsplit.x_train, axis=0))


# ------------------------------------------------------------------ splits


def test_train_val_split():
    x = np.arange(20, dtype=np.float32)[:, None]
    y = np.arange(20, dtype=np.int32)
    xt, yt, xv, yv = D.train_val_split(KEY, x, y, 0.3)
    assert len(xv) == 6 and len(xt) == 14
    assert sorted(yt.tolist() + yv.tolist()) == list(range(20))
    np.testing.assert_array_equal(xt[:, 0], yt)  # rows stay paired
    again = D.train_val_split(KEY, x, y, 0.3)
    np.testing.assert_array_equal(again[3], yv)
    assert not np.array_equal(D.train_val_split(jax.random.key(1), x, y, 0.3)[3], yv)
    xt, yt, xv, yv = D.train_val_split(KEY, x, y, 0.0)
    assert len(xv) == 0 and len(xt) == 20
    assert len(D.train_val_split(KEY, x, y, 0.01)[2]) == 1  # a positive fraction keeps one


@given(n=st.integers(2, 60), k=st.integers(2, 60))
def test_kfold_partitions_exactly(n, k):
    if k > n:
        with pytest.raises(ValueError, match="k must be an integer with 2 <= k <= n"):
            D.kfold_indices(n, k)
        return
    folds = D.kfold_indices(n, k)
    assert len(folds) == k
    vals = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(vals), np.arange(n))  # each index in one fold
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0
        np.testing.assert_array_equal(np.union1d(tr, va), np.arange(n))


def test_kfold_with_key_shuffles_and_partitions():
    plain = D.kfold_indices(10, 3)
    np.testing.assert_array_equal(plain[0][1], [0, 1, 2, 3])
    for seed in (0, 1):
        folds = D.kfold_indices(10, 3, key=jax.random.key(seed))
        vals = np.concatenate([v for _, v in folds])
        np.testing.assert_array_equal(np.sort(vals), np.arange(10))
        assert [len(v) for _, v in folds] == [4, 3, 3]
        assert any(not np.array_equal(f[1], p[1]) for f, p in zip(folds, plain))
    again = D.kfold_indices(10, 3, key=jax.random.key(0))
    for a, b in zip(again, D.kfold_indices(10, 3, key=jax.random.key(0))):
        np.testing.assert_array_equal(a[1], b[1])


# ------------------------------------------------------------------ minibatches

N = 23
XS = np.arange(N, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)  # row i is all i
YS = np.arange(N, dtype=np.int32)


@pytest.mark.parametrize("batch_size", [1, 5, N])
def test_iterate_batches_cover_each_index_once(batch_size):
    batches = list(D.iterate_batches(KEY, XS, YS, batch_size, drop_last=False))
    assert len(batches) == -(-N // batch_size)
    assert all(len(yb) == batch_size for _, yb in batches[:-1])
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(N))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # x and y stay paired
    if batch_size == 1:  # single-sample SGD
        assert len(batches) == N
    if batch_size == N:  # full batch, in shuffled order
        assert len(batches) == 1 and not np.array_equal(batches[0][1], YS)


def test_iterate_batches_drop_last_and_reshuffle():
    kept = list(D.iterate_batches(KEY, XS, YS, 5, drop_last=True))
    assert [len(yb) for _, yb in kept] == [5, 5, 5, 5]
    seen = np.concatenate([yb for _, yb in kept])
    assert len(np.unique(seen)) == 20
    same = np.concatenate([yb for _, yb in D.iterate_batches(KEY, XS, YS, 5)])
    np.testing.assert_array_equal(same, seen)
    other = np.concatenate([yb for _, yb in D.iterate_batches(jax.random.key(1), XS, YS, 5)])
    assert not np.array_equal(other, seen)
    # jax inputs give jax batches
    xb, yb = next(D.iterate_batches(KEY, jnp.asarray(XS), jnp.asarray(YS), 5))
    assert isinstance(xb, jax.Array)
    np.testing.assert_array_equal(np.asarray(yb), seen[:5])


def test_epoch_batches_drop_last():
    xb, yb = epoch_batches_jit(KEY, XS, YS, batch_size=5, drop_last=True)
    assert xb.shape == (4, 5, 3) and yb.shape == (4, 5) and yb.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(xb[..., 0]), np.asarray(yb))
    ref = [yb_i for _, yb_i in D.iterate_batches(KEY, XS, YS, 5)]
    np.testing.assert_array_equal(np.asarray(yb), np.stack(ref))
    eager = D.epoch_batches(KEY, XS, YS, 5)
    np.testing.assert_array_equal(np.asarray(eager[1]), np.asarray(yb))
    yb1 = epoch_batches_jit(jax.random.key(1), XS, YS, batch_size=5, drop_last=True)[1]
    assert not np.array_equal(np.asarray(yb1), np.asarray(yb))
    # batch size 1 and full batch
    assert D.epoch_batches(KEY, XS, YS, 1)[0].shape == (N, 1, 3)
    assert D.epoch_batches(KEY, XS, YS[:, None], N)[1].shape == (1, N, 1)


def test_epoch_batches_keep_last_pads_with_mask():
    xb, yb, mask = epoch_batches_jit(KEY, XS, YS, batch_size=5, drop_last=False)
    assert xb.shape == (5, 5, 3) and mask.shape == (5, 5) and mask.dtype == jnp.bool_
    mask, yb = np.asarray(mask), np.asarray(yb)
    assert mask.sum() == N and mask[:4].all() and mask[4].tolist() == [1, 1, 1, 0, 0]
    np.testing.assert_array_equal(np.sort(yb[mask]), np.arange(N))  # real entries: once each
    last = [b for _, b in D.iterate_batches(KEY, XS, YS, 5, drop_last=False)][-1]
    np.testing.assert_array_equal(yb[4][mask[4]], last)
    # divisible: the mask is there and all True
    _, _, m2 = D.epoch_batches(KEY, XS[:20], YS[:20], 5, drop_last=False)
    assert m2.shape == (4, 5) and bool(m2.all())


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: D.iterate_batches(KEY, XS, YS[:-1], 5), r"x and y must have the same batch size"),
        (
            lambda: D.epoch_batches(KEY, XS, YS[:-1], 5),
            r"x\.shape\[0\] = 23 and y\.shape\[0\] = 22",
        ),
        (lambda: D.train_val_split(KEY, XS, YS[:3], 0.2), r"x and y must have the same batch"),
        (
            lambda: D.iterate_batches(KEY, XS, YS, 0),
            r"batch_size must be a positive integer; got 0",
        ),
        (lambda: D.epoch_batches(KEY, XS, YS, 0), r"batch_size must be a positive integer; got 0"),
        (
            lambda: D.iterate_batches(KEY, XS, YS, 24),
            r"batch_size must be at most .* n = 23; got 24",
        ),
        (lambda: D.epoch_batches(KEY, XS, YS, 24), r"batch_size must be at most .* n = 23; got 24"),
        (lambda: D.kfold_indices(10, 1), r"k must be an integer with 2 <= k <= n = 10; got 1"),
        (lambda: D.kfold_indices(10, 11), r"k must be an integer with 2 <= k <= n = 10; got 11"),
        (lambda: D.load("mnist2d"), r"unknown dataset 'mnist2d'; valid names are: .*iris.*xor"),
        (lambda: D.load_sklearn("wine"), r"unknown scikit-learn dataset 'wine'; valid names"),
        (lambda: D.load("xor", val_fraction=1.0), r"val_fraction must be in \[0, 1\); got 1\.0"),
        (lambda: D.load("xor", val_fraction=-0.1), r"val_fraction must be in \[0, 1\); got -0\.1"),
        (
            lambda: D.train_val_split(KEY, XS, YS, 0.99),
            r"val_fraction = 0\.99 of n = 23 .* no train",
        ),
        (lambda: D.make_linear(0), r"key must be a single jax\.random key"),
        (lambda: D.iterate_batches(jax.random.split(KEY), XS, YS, 5), r"key must be a single"),
        (lambda: D.make_blobs(KEY, 10, margin=0.0), r"margin must be positive"),
        (lambda: D.make_linear(KEY, noise=-1.0), r"noise must be a finite number >= 0"),
        (
            lambda: D.polynomial_features(np.ones((3, 2)), 3),
            r"x must have shape \(n,\) or \(n, 1\)",
        ),
        (lambda: D.polynomial_features(np.ones(3), -1), r"degree must be a non-negative integer"),
        (lambda: D.standardize(XS, XS[:, :2]), r"others\[0\] must have per-example shape \(3,\)"),
        (lambda: D.load_mnist1d(seed=1.5), r"seed must be an integer"),
        (lambda: D.load_mnist1d(url="x"), r"dataset_args must not set 'url'"),
    ],
)
def test_error_messages(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_traced_batch_size_is_rejected():
    f = jax.jit(D.epoch_batches, static_argnames=("drop_last",))
    with pytest.raises(TypeError, match="batch_size must be a static Python value"):
        f(KEY, XS, YS, 5)


def test_missing_optional_packages_say_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r'pip install "funcnn\[experiments\]"'):
        D.load("iris")
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"'mnist1d' package.*funcnn\[experiments\]"):
        D.load_mnist1d(cache_dir=tmp_path, verbose=False)

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(ImportError, match=r"'mnist1d' package\. .*funcnn\[experiments\]"):
        D.load_mnist1d(cache_dir=tmp_path)


# ------------------------------------------------------------------ MNIST-1D


@pytest.fixture(scope="session")
def mnist1d_cached(tmp_path_factory):
    """Generate MNIST-1D once for the session into a temporary cache folder.

    Also records whether generation left numpy's and Python's global generators alone.
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


def forbid_generation(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("MNIST-1D was regenerated although a valid cache exists")

    monkeypatch.setattr(D.mnist1d, "generate_mnist1d", fail)


def counting_generator(monkeypatch, arrays):
    calls = []

    def fake(seed, **dataset_args):
        calls.append(seed)
        return {k: np.array(v) for k, v in arrays.items()}

    monkeypatch.setattr(D.mnist1d, "generate_mnist1d", fake)
    return calls


def arrays_of(ds):
    return {"x_train": ds.x_train, "y_train": ds.y_train, "x_test": ds.x_test, "y_test": ds.y_test}


def test_mnist1d_is_the_packages_dataset(mnist1d_cached):
    cache, ds, rng_untouched = mnist1d_cached
    check_dataset(ds, 4000, 1000, 40, 10)
    assert np.bincount(ds.y_test, minlength=10).min() > 50
    assert rng_untouched, "load_mnist1d changed numpy's or Python's global random state"
    import mnist1d.data

    ref = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    np.testing.assert_array_equal(ds.x_train, ref["x"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, ref["y_test"])
    assert list(cache.iterdir()) == [D.mnist1d_cache_path(cache)]


def test_mnist1d_cache_round_trip(mnist1d_cached, monkeypatch):
    cache, ds, _ = mnist1d_cached
    forbid_generation(monkeypatch)
    again = D.load_mnist1d(cache_dir=cache)
    for a, b in zip(ds[:4], again[:4]):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    # load() reads the same cache, and standardizes with training statistics
    full = D.load("mnist1d", cache_dir=cache, val_fraction=0.1)
    assert full.x_train.shape == (3600, 40) and full.x_val.shape == (400, 40)
    np.testing.assert_allclose(full.x_train.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(full.x_train.std(0), 1.0, atol=1e-4)
    assert np.abs(full.x_test.mean(0)).max() > 1e-3
    np.testing.assert_array_equal(full.y_test, ds.y_test)


def test_mnist1d_cache_location(mnist1d_cached, monkeypatch, tmp_path):
    _, ds, _ = mnist1d_cached
    calls = counting_generator(monkeypatch, arrays_of(ds))
    env_dir = tmp_path / "from_env"
    monkeypatch.setenv("FUNCNN_CACHE", str(env_dir))
    assert D.resolve_cache_dir() == env_dir
    D.load_mnist1d(verbose=False)
    assert D.mnist1d_cache_path().parent == env_dir and D.mnist1d_cache_path().is_file()
    D.load("mnist1d")
    assert calls == [42]  # the second load read the env cache
    arg_dir = tmp_path / "from_arg"  # the argument beats the environment
    D.load_mnist1d(cache_dir=arg_dir, verbose=False)
    assert calls == [42, 42] and D.mnist1d_cache_path(arg_dir).is_file()
    monkeypatch.delenv("FUNCNN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert D.resolve_cache_dir() == tmp_path / "home" / ".cache" / "funcnn"
    # other configurations live in other files
    p = D.mnist1d_cache_path(arg_dir)
    assert D.mnist1d_cache_path(arg_dir, seed=1) != p
    assert D.mnist1d_cache_path(arg_dir, shuffle_seq=True) != p


def test_mnist1d_never_reads_partial_files(mnist1d_cached, monkeypatch, tmp_path):
    cache, ds, _ = mnist1d_cached
    good = D.mnist1d_cache_path(cache).read_bytes()
    path = D.mnist1d_cache_path(tmp_path)
    calls = counting_generator(monkeypatch, arrays_of(ds))
    # a stale temporary file from a killed writer is ignored
    stale = tmp_path / f".{path.name}.abc123.tmp"
    stale.write_bytes(good[: len(good) // 2])
    D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    assert calls == [42] and path.read_bytes() == good
    # a truncated cache file is regenerated, not loaded
    path.write_bytes(good[: len(good) // 2])
    out = D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    assert calls == [42, 42] and path.read_bytes() == good
    np.testing.assert_array_equal(out.x_train, ds.x_train)
    # so is a file whose arrays are not what we wrote
    np.savez(path, x_train=np.zeros(3), meta=np.asarray("other"))
    D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    assert calls == [42, 42, 42] and path.read_bytes() == good


def test_mnist1d_write_is_atomic(mnist1d_cached, monkeypatch, tmp_path):
    cache, ds, _ = mnist1d_cached
    good = D.mnist1d_cache_path(cache).read_bytes()
    path = D.mnist1d_cache_path(tmp_path)
    counting_generator(monkeypatch, arrays_of(ds))
    real_savez = np.savez

    def dies_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    assert os.listdir(tmp_path) == []  # no final file, no temporary left behind
    monkeypatch.setattr(np, "savez", real_savez)
    D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        D.load_mnist1d(cache_dir=tmp_path, regenerate=True, verbose=False)
    assert path.read_bytes() == good  # the complete old file is still there
    assert os.listdir(tmp_path) == [path.name]
