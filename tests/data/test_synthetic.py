"""funcnn.data.synthetic: the generators follow their formulas, draw from their key only, and
the named sets have the sizes of the package table."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import data as D
from tests.data.helpers import KEY, SYNTHETIC_SIZES, check_dataset


def test_synthetic_names():
    assert set(D.SYNTHETIC) == set(SYNTHETIC_SIZES)


@pytest.mark.parametrize("name", sorted(SYNTHETIC_SIZES))
def test_load_synthetic_sizes_and_determinism(name):
    ds = D.load_synthetic(name, KEY)
    check_dataset(ds, *SYNTHETIC_SIZES[name])
    assert ds.name == name and ds.x_val is None and ds.y_val is None
    for a, b in zip(ds[:4], D.load_synthetic(name, KEY)[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    other = D.load_synthetic(name, jax.random.key(1))
    if name == "xor":  # no randomness at all; the test set is the training set
        np.testing.assert_array_equal(other.x_train, ds.x_train)
        np.testing.assert_array_equal(ds.x_test, ds.x_train)
    else:
        assert not np.array_equal(other.x_train, ds.x_train)
        assert not np.array_equal(ds.x_test[: len(ds.x_train)], ds.x_train[: len(ds.x_test)])


def test_load_synthetic_is_the_generators():
    """The named sets are the ``make_*`` generators called with the key, as documented."""
    train_key, test_key = jax.random.split(KEY)
    blobs_x, blobs_y = D.make_blobs(KEY, 400)
    xor_x, xor_y = D.make_xor()
    expected = {
        "linear": (*D.make_linear(train_key), *D.make_linear(test_key)),
        "polynomial": D.make_polynomial(KEY)[:4],
        "attention": D.make_attention(KEY)[:4],
        "xor": (xor_x, xor_y, xor_x, xor_y),
        "blobs": (blobs_x[:200], blobs_y[:200], blobs_x[200:], blobs_y[200:]),
        "high_dim": D.make_high_dim(KEY)[:4],
    }
    for name, arrays in expected.items():
        for a, b in zip(D.load_synthetic(name, KEY)[:4], arrays, strict=True):
            np.testing.assert_array_equal(a, b)


def test_linear_draws_features_and_noise_from_the_two_halves_of_the_key():
    xkey, ekey = jax.random.split(KEY)
    X, y = D.make_linear(KEY, n=50, noise=0.5)
    np.testing.assert_array_equal(X, np.asarray(jax.random.normal(xkey, (50, 2))))
    eps = 0.5 * np.asarray(jax.random.normal(ekey, (50,)), np.float64)
    want = X.astype(np.float64) @ np.array([2.0, -3.4]) + 4.2 + eps
    np.testing.assert_allclose(y[:, 0], want, rtol=1e-6, atol=1e-6)


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
    assert isinstance(fj, jax.Array) and fj.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(fj), want, rtol=1e-6)
    np.testing.assert_array_equal(D.polynomial_features(x, 0), np.ones((3, 1), np.float32))


def test_polynomial_set_follows_d2l():
    ds = D.make_polynomial(KEY, n_train=2000, n_test=100)
    assert ds.x_train.shape == (2000, 21)
    x = ds.x_train[:, 1].astype(np.float64)  # column 1 is x itself
    np.testing.assert_allclose(ds.x_train, D.polynomial_features(x, 20), rtol=1e-6)
    truth = 5 + 1.2 * x - 3.4 * x**2 / 2 + 5.6 * x**3 / 6
    eps = ds.y_train[:, 0] - truth
    assert abs(eps.std() - 0.1) < 0.006 and abs(eps.mean()) < 0.006


def test_attention_set():
    f = lambda t: 2 * np.sin(t) + t**0.8
    ds = D.make_attention(KEY)
    assert ds.x_train.shape == (50, 1) and np.all(np.diff(ds.x_train[:, 0]) >= 0)  # sorted keys
    np.testing.assert_allclose(ds.x_test[:, 0], np.arange(50) * 0.1, atol=1e-6)
    np.testing.assert_allclose(ds.y_test[:, 0], f(ds.x_test[:, 0].astype(np.float64)), atol=1e-5)
    big = D.make_attention(KEY, n_train=5000)
    x = big.x_train[:, 0].astype(np.float64)
    # x = 5 U(0, 1): its deciles are 0.5, 1.0, ..., 4.5 (standard error about 0.02)
    np.testing.assert_allclose(
        np.quantile(x, np.arange(1, 10) / 10), np.arange(1, 10) / 2, atol=0.1
    )
    eps = big.y_train[:, 0] - f(x)
    assert abs(eps.std() - 0.5) < 0.03 and abs(eps.mean()) < 0.03


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
        for xi, si in zip(Xa, s, strict=True):
            if si * (xi @ w) <= 0:
                w += si * xi
                mistakes += 1
        if mistakes == 0:
            return 0
    return mistakes


@pytest.mark.parametrize("d, margin", [(2, 0.5), (5, 0.2)])
def test_blobs_separable_with_margin(d, margin):
    X, y, u = D.make_blobs(KEY, 301, d=d, margin=margin, return_direction=True)
    assert X.shape == (301, d) and y.dtype == np.int32
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


def test_named_blobs_share_one_plane():
    ds = D.load_synthetic("blobs", KEY)
    X, y = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    assert perceptron_mistakes(X, y, max_epochs=200) == 0


def test_high_dim_set():
    ds = D.make_high_dim(KEY)
    check_dataset(ds, 20, 100, 200, None)
    big = D.make_high_dim(KEY, n_train=20, n_test=5000)
    eps = big.y_test[:, 0] - (0.01 * big.x_test.astype(np.float64).sum(1) + 0.05)
    assert abs(eps.std() - 0.01) < 0.001 and abs(eps.mean()) < 0.001


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: D.make_linear(0), TypeError, r"key must be a single jax\.random key"),
        (lambda: D.make_polynomial(jax.random.split(KEY)), TypeError, r"key must be a single"),
        (lambda: D.make_blobs(KEY, 10, margin=0.0), ValueError, r"margin must be positive"),
        (lambda: D.make_blobs(KEY, 1), ValueError, r"n must be at least 2"),
        (lambda: D.make_blobs(KEY, spread=-1.0), ValueError, r"spread must be a finite number"),
        (lambda: D.make_linear(KEY, noise=-1.0), ValueError, r"noise must be a finite number >= 0"),
        (lambda: D.make_attention(KEY, noise=np.nan), ValueError, r"noise must be a finite num"),
        (lambda: D.make_linear(KEY, w=()), ValueError, r"w must hold at least one weight"),
        (lambda: D.make_high_dim(KEY, d=0), ValueError, r"d must be a positive integer; got 0"),
        (
            lambda: D.polynomial_features(np.ones((3, 2)), 3),
            ValueError,
            r"x must have shape \(n,\) or \(n, 1\)",
        ),
        (lambda: D.polynomial_features(np.ones(3), -1), ValueError, r"degree must be a non-neg"),
        (lambda: D.polynomial_features(np.ones(3), True), ValueError, r"degree must be a non-neg"),
        (lambda: D.load_synthetic("mnist1d", KEY), ValueError, r"unknown synthetic dataset"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
