"""funcnn.data.splits: held-out splits partition the rows, K-fold partitions the indices, and
standardization uses training statistics only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcnn import data as D
from tests.data.helpers import KEY

X20 = np.arange(20, dtype=np.float32)[:, None]
Y20 = np.arange(20, dtype=np.int32)


def test_train_val_split():
    xt, yt, xv, yv = D.train_val_split(KEY, X20, Y20, 0.3)
    assert len(xv) == 6 and len(xt) == 14
    np.testing.assert_array_equal(np.sort(np.concatenate([yt, yv])), np.arange(20))
    np.testing.assert_array_equal(xt[:, 0], yt)  # rows stay paired
    assert np.all(np.diff(yt) > 0) and np.all(np.diff(yv) > 0)  # both parts keep row order
    again = D.train_val_split(KEY, X20, Y20, 0.3)
    np.testing.assert_array_equal(again[3], yv)
    assert not np.array_equal(D.train_val_split(jax.random.key(1), X20, Y20, 0.3)[3], yv)
    # jax arrays in, jax arrays out
    xt_j = D.train_val_split(KEY, jnp.asarray(X20), jnp.asarray(Y20), 0.3)[0]
    assert isinstance(xt_j, jax.Array)
    np.testing.assert_array_equal(np.asarray(xt_j), X20[yt])
    xt, yt, xv, yv = D.train_val_split(KEY, X20, Y20, 0.0)
    assert len(xv) == 0 and len(xt) == 20
    assert len(D.train_val_split(KEY, X20, Y20, 0.01)[2]) == 1  # a positive fraction keeps one


def test_train_test_split_plain_is_the_validation_split():
    for a, b in zip(
        D.train_test_split(KEY, X20, Y20, 0.25),
        D.train_val_split(KEY, X20, Y20, 0.25),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_train_test_split_stratified_keeps_class_proportions():
    y = np.repeat(np.arange(3, dtype=np.int32), [40, 20, 10])  # 70 rows, unbalanced
    x = np.arange(70, dtype=np.float32)[:, None]
    xt, yt, xs, ys = D.train_test_split(KEY, x, y, 0.2, stratify=True)
    assert np.bincount(ys).tolist() == [8, 4, 2]  # round(0.2 n_c) of each class
    assert np.bincount(yt).tolist() == [32, 16, 8]
    np.testing.assert_array_equal(np.sort(np.concatenate([xt, xs])[:, 0]), np.arange(70))
    np.testing.assert_array_equal(y[xs[:, 0].astype(int)], ys)  # rows stay paired
    other = D.train_test_split(jax.random.key(1), x, y, 0.2, stratify=True)[2]
    assert not np.array_equal(other, xs)


def sizes_of(folds):
    return [len(v) for _, v in folds]


@given(st.integers(2, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n))))
def test_kfold_partitions_exactly(n_k):
    n, k = n_k
    folds = D.kfold_indices(n, k)
    assert len(folds) == k
    vals = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(vals), np.arange(n))  # each index in one fold
    # the first n % k folds get one extra example
    assert sizes_of(folds) == [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    for tr, va in folds:
        assert tr.dtype == np.int64 and va.dtype == np.int64
        assert len(np.intersect1d(tr, va)) == 0
        np.testing.assert_array_equal(np.union1d(tr, va), np.arange(n))


def test_kfold_with_key_shuffles_and_partitions():
    plain = D.kfold_indices(10, 3)
    assert [v.tolist() for _, v in plain] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    for seed in (0, 1):
        folds = D.kfold_indices(10, 3, key=jax.random.key(seed))
        vals = np.concatenate([v for _, v in folds])
        np.testing.assert_array_equal(np.sort(vals), np.arange(10))
        assert sizes_of(folds) == [4, 3, 3]
        assert any(not np.array_equal(f[1], p[1]) for f, p in zip(folds, plain, strict=True))
    again = D.kfold_indices(10, 3, key=jax.random.key(0))
    for a, b in zip(again, D.kfold_indices(10, 3, key=jax.random.key(0)), strict=True):
        np.testing.assert_array_equal(a[1], b[1])


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, (200, 3)).astype(np.float32)
    x_test = rng.normal(-1.0, 5.0, (50, 3)).astype(np.float32)
    x_train[:, 2] = 7.0  # constant feature: std taken as 1, output 0, no NaN
    tr, te = D.standardize(x_train, x_test)
    np.testing.assert_allclose(tr[:, :2].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(tr[:, :2].std(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(tr[:, 2], 0.0)
    # the test set is transformed with the training set's mean and std (ddof 0)
    mean = x_train.astype(np.float64).mean(0)
    std = np.where(x_train.std(0) > 0, x_train.astype(np.float64).std(0), 1.0)
    np.testing.assert_allclose(te, (x_test - mean) / std, rtol=1e-5, atol=1e-5)
    fitted = D.fit_standardizer(x_train)
    np.testing.assert_allclose(fitted[0], mean, rtol=1e-6)
    np.testing.assert_allclose(fitted[1], std, rtol=1e-6)
    np.testing.assert_array_equal(D.apply_standardizer(x_test, *fitted), te)
    # the training result does not depend on the test data at all
    tr2, te2 = D.standardize(x_train, x_test * 100)
    np.testing.assert_array_equal(tr, tr2)
    np.testing.assert_allclose(te2[:, 2], (x_test[:, 2] * 100 - 7.0), rtol=1e-6)
    # jax arrays in, jax arrays out
    (trj,) = D.standardize(jnp.asarray(x_train))
    assert isinstance(trj, jax.Array)
    np.testing.assert_allclose(np.asarray(trj), tr, atol=1e-5)


XS = np.zeros((23, 3), np.float32)
YS = np.zeros(23, np.int32)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: D.train_val_split(KEY, XS, YS[:3], 0.2), r"x and y must have the same batch"),
        (lambda: D.train_val_split(KEY, XS, YS, 0.99), r"val_fraction = 0\.99 of n = 23 .* no tr"),
        (lambda: D.train_test_split(KEY, XS, YS, 0.99), r"test_fraction = 0\.99 of n = 23 .* no"),
        (lambda: D.train_val_split(KEY, XS, YS, 1.0), r"val_fraction must be in \[0, 1\); got 1"),
        (lambda: D.train_val_split(KEY, XS, YS, True), r"val_fraction must be a number in \[0, 1"),
        (lambda: D.train_val_split(KEY, XS, YS, "0.1"), r"val_fraction must be a number"),
        (
            lambda: D.train_test_split(KEY, XS, XS, 0.2, stratify=True),
            r"stratify=True needs integer labels y of shape \(n,\)",
        ),
        (lambda: D.kfold_indices(10, 1), r"k must be an integer with 2 <= k <= n = 10; got 1"),
        (lambda: D.kfold_indices(10, 11), r"k must be an integer with 2 <= k <= n = 10; got 11"),
        (lambda: D.kfold_indices(10, 2.0), r"k must be an integer with 2 <= k <= n = 10; got 2\.0"),
        (lambda: D.kfold_indices(0, 2), r"n must be a positive integer; got 0"),
        (lambda: D.standardize(XS, XS[:, :2]), r"others\[0\] must have per-example shape \(3,\)"),
        (lambda: D.apply_standardizer(XS[:, :2], *D.fit_standardizer(XS)), r"x must have per-ex"),
        (lambda: D.fit_standardizer(XS[:0]), r"x is an empty batch"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_key():
    with pytest.raises(TypeError, match=r"key must be a single jax\.random key"):
        D.kfold_indices(10, 2, key=0)
