"""The synthetic sets of the notes: linear and polynomial regression, Nadaraya-Watson
attention, XOR, separable blobs, and few-sample high-dimensional regression.

They follow the digest (``seeds/001``, sections 3 and 11), which follows the
Dive-into-Deep-Learning setups listed in ``REFERENCES.md``. Every generator takes an explicit
``jax.random.key`` (split by name inside) and returns numpy arrays: float32 inputs, float32
``(n, 1)`` regression targets or int32 labels. :func:`load_synthetic` gives the six sets
that :func:`funcnn.data.load` knows by name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.checks import (
    check_choice,
    check_key,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
)
from funcnn.data.dataset import Dataset, as_float32

#: The names :func:`load_synthetic` (and :func:`funcnn.data.load`) accept.
SYNTHETIC = ("linear", "polynomial", "attention", "xor", "blobs", "high_dim")


def make_linear(
    key,
    n: int = 1000,
    w: Sequence[float] = (2.0, -3.4),
    b: float = 4.2,
    noise: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """The digest's linear-regression data (section 3): ``y = X w + b + eps``.

    ``X ~ N(0, I)``, ``eps ~ N(0, noise^2)``, the Dive-into-Deep-Learning setup
    (w = (2, -3.4), b = 4.2, 1,000 examples, noise std 0.01).

    Args:
        key: a ``jax.random.key``; split into ``xkey`` (features) and ``ekey`` (noise).
        n: number of examples.
        w: true weights, length ``d``.
        b: true bias.
        noise: standard deviation of the Gaussian noise (>= 0).

    Returns:
        ``(X, y)``: float32 ``(n, d)`` and ``(n, 1)``.
    """
    check_key(key)
    n = check_positive_int(n, "n")
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.size == 0:
        raise ValueError("w must hold at least one weight; got an empty sequence.")
    noise = check_nonnegative(noise, "noise")  # a standard deviation
    xkey, ekey = jax.random.split(key)
    X = np.asarray(jax.random.normal(xkey, (n, w.size)), dtype=np.float64)
    eps = noise * np.asarray(jax.random.normal(ekey, (n,)), dtype=np.float64)
    y = X @ w + b + eps  # y = X w + b + eps
    return as_float32(X), as_float32(y[:, None])


def polynomial_features(x, degree: int):
    """Scaled monomials ``x^i / i!`` for ``i = 0, 1, ..., degree`` (the D2L curve-fitting design).

    Dividing by ``i!`` keeps the high powers of ``x ~ N(0, 1)`` small, so no feature dominates
    the gradient. Column ``i`` is ``x^i / i!``: column 0 is all ones and column 1 is ``x``, so
    the fit of a degree-``k`` polynomial uses ``features[:, :k + 1]``.

    Args:
        x: ``(n,)`` or ``(n, 1)`` numpy or jax array.
        degree: highest power (>= 0). The D2L setup's 20 features are ``degree = 19``.

    Returns:
        ``(n, degree + 1)``, numpy float32 for numpy input (computed in float64), a jax array
        of ``x``'s float dtype for jax input.
    """
    degree = check_nonnegative_int(degree, "degree")
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"x must have shape (n,) or (n, 1); got {tuple(x.shape)}.")
    factorials = [float(math.factorial(i)) for i in range(degree + 1)]
    if isinstance(x, jax.Array):
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
        x = x.astype(dtype)
        powers = jnp.arange(degree + 1, dtype=dtype)
        return x[:, None] ** powers[None, :] / jnp.asarray(factorials, dtype)[None, :]
    x = np.asarray(x, dtype=np.float64)
    powers = np.arange(degree + 1, dtype=np.float64)
    return as_float32(x[:, None] ** powers[None, :] / np.asarray(factorials)[None, :])


def make_polynomial(
    key,
    n_train: int = 100,
    n_test: int = 100,
    degree: int = 20,
    coefficients: Sequence[float] = (5.0, 1.2, -3.4, 5.6),
    noise: float = 0.1,
) -> Dataset:
    """D2L polynomial curve fitting: ``y = 5 + 1.2 x - 3.4 x^2/2! + 5.6 x^3/3! + eps``.

    ``x ~ N(0, 1)``, ``eps ~ N(0, noise^2)``; the inputs are :func:`polynomial_features`
    ``x^i / i!`` up to ``degree``, and ``y = sum_i coefficients[i] x^i / i! + eps``. Slice
    ``x[:, :k + 1]`` to fit a degree-``k`` polynomial (k = 3 fits, 1 underfits, 20 overfits).
    The raw ``x`` is column 1.

    Returns:
        a :class:`Dataset` with x float32 ``(n, degree + 1)`` and y float32 ``(n, 1)``.
    """
    check_key(key)
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    degree = check_nonnegative_int(degree, "degree")
    coef = np.asarray(coefficients, dtype=np.float64).reshape(-1)
    if coef.size == 0:
        raise ValueError("coefficients must hold at least one value.")
    noise = check_nonnegative(noise, "noise")  # a standard deviation
    n = n_train + n_test
    xkey, ekey = jax.random.split(key)
    x = np.asarray(jax.random.normal(xkey, (n,)), dtype=np.float64)
    eps = noise * np.asarray(jax.random.normal(ekey, (n,)), dtype=np.float64)
    powers = np.arange(coef.size, dtype=np.float64)
    scale = np.asarray([math.factorial(i) for i in range(coef.size)], dtype=np.float64)
    y = (x[:, None] ** powers[None, :] / scale[None, :]) @ coef + eps
    feats = polynomial_features(x, degree)
    y = as_float32(y[:, None])
    return Dataset(feats[:n_train], y[:n_train], feats[n_train:], y[n_train:], None, "polynomial")


def make_attention(key, n_train: int = 50, noise: float = 0.5) -> Dataset:
    """The Nadaraya-Watson set of the digest (section 11).

    Training inputs ``x = sorted(5 U(0, 1))`` with ``y = 2 sin(x) + x^0.8 + eps``,
    ``eps ~ N(0, noise^2)``; test inputs ``x = 0, 0.1, ..., 4.9`` with the noise-free truth
    ``y = 2 sin(x) + x^0.8`` (what the pooled estimate is compared with).

    Returns:
        a :class:`Dataset`; x float32 ``(n, 1)`` (use ``x[:, 0]`` as keys/queries), y float32
        ``(n, 1)``.
    """
    check_key(key)
    n_train = check_positive_int(n_train, "n_train")
    noise = check_nonnegative(noise, "noise")  # a standard deviation
    xkey, ekey = jax.random.split(key)
    x = np.sort(5.0 * np.asarray(jax.random.uniform(xkey, (n_train,)), dtype=np.float64))
    eps = noise * np.asarray(jax.random.normal(ekey, (n_train,)), dtype=np.float64)

    def f(t):
        return 2.0 * np.sin(t) + t**0.8

    x_test = np.arange(50, dtype=np.float64) * 0.1
    return Dataset(
        as_float32(x[:, None]),
        as_float32((f(x) + eps)[:, None]),
        as_float32(x_test[:, None]),
        as_float32(f(x_test)[:, None]),
        None,
        "attention",
    )


def make_xor() -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: inputs ``{0, 1}^2``, label ``x1 XOR x2``; no line separates the classes.

    Returns:
        ``(X, y)``: float32 ``(4, 2)`` rows (0,0), (0,1), (1,0), (1,1) and int32 labels
        ``(0, 1, 1, 0)``.
    """
    X = np.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.asarray([0, 1, 1, 0], dtype=np.int32)
    return X, y


def make_blobs(
    key,
    n: int = 200,
    *,
    d: int = 2,
    margin: float = 0.5,
    distance: float = 3.0,
    spread: float = 1.0,
    return_direction: bool = False,
):
    """Two Gaussian blobs that a hyperplane through the origin separates with a margin.

    A unit vector ``u`` is drawn from the key. Class 1 is centred at ``+distance/2 u``, class
    0 at ``-distance/2 u``, each ``N(center, spread^2 I)``. Then every point that lies closer
    than ``margin/2`` to the plane ``u . x = 0`` (or on the wrong side of it) is moved along
    ``u`` until ``s_i u . x_i = margin/2`` with ``s_i = 2 y_i - 1``. So, guaranteed (up to
    float32 rounding of the returned values):

        ``(2 y_i - 1) u . x_i >= margin / 2`` for every ``i``,

    i.e. the set is linearly separable by ``w = u, b = 0`` with geometric margin
    ``gamma >= margin / 2`` (the gap between the classes is at least ``margin``), and the
    perceptron converges after at most ``(R / gamma)^2`` mistakes, ``R = max_i ||x_i||``.
    The classes are balanced (``n // 2`` zeros) and the rows come in random order.

    Args:
        key: a ``jax.random.key``.
        n: number of examples (>= 2).
        d: input dimension.
        margin: minimum gap between the classes (> 0).
        distance: distance between the two blob centres.
        spread: standard deviation of each blob.
        return_direction: also return ``u``.

    Returns:
        ``(X, y)``: float32 ``(n, d)``, int32 ``(n,)`` labels in {0, 1}; with
        ``return_direction=True`` a third value, ``u`` float32 ``(d,)``.
    """
    check_key(key)
    n = check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be at least 2 so that both classes appear; got {n}.")
    d = check_positive_int(d, "d")
    if not margin > 0:
        raise ValueError(f"margin must be positive; got {margin!r}.")
    spread = check_nonnegative(spread, "spread")
    distance = check_nonnegative(distance, "distance")
    ukey, ykey, xkey = jax.random.split(key, 3)
    u = np.asarray(jax.random.normal(ukey, (d,)), dtype=np.float64)
    u = u / np.linalg.norm(u)
    y = np.asarray(
        jax.random.permutation(ykey, (np.arange(n) >= n // 2).astype(np.int32)), dtype=np.int32
    )
    s = 2.0 * y - 1.0  # (n,) the sign of each class
    X = s[:, None] * (0.5 * distance) * u[None, :]
    X = X + spread * np.asarray(jax.random.normal(xkey, (n, d)), dtype=np.float64)
    shortfall = np.maximum(0.0, 0.5 * margin - s * (X @ u))  # how far inside the margin
    X = X + (s * shortfall)[:, None] * u[None, :]
    out = (as_float32(X), y)
    return (*out, as_float32(u)) if return_direction else out


def make_high_dim(
    key,
    d: int = 200,
    n_train: int = 20,
    n_test: int = 100,
    w: float = 0.01,
    b: float = 0.05,
    noise: float = 0.01,
) -> Dataset:
    """High-dimensional, few-sample regression for weight decay (the digest, section 3).

    ``y = 0.01 sum_j x_j + 0.05 + eps`` with ``x ~ N(0, I_d)``, ``eps ~ N(0, 0.01^2)``,
    d = 200 features and only 20 training examples, so an unregularized fit overfits.

    Returns:
        a :class:`Dataset`; x float32 ``(n, d)``, y float32 ``(n, 1)``.
    """
    check_key(key)
    d = check_positive_int(d, "d")
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    X, y = make_linear(key, n_train + n_test, w=np.full(d, w), b=b, noise=noise)
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], None, "high_dim")


def load_synthetic(name: str, key) -> Dataset:
    """One of the :data:`SYNTHETIC` sets with the train/test sizes of the package table.

    ``linear`` draws train and test with the two halves of ``key``; ``blobs`` draws 400 points
    at once, so train and test share the separating plane; ``xor``'s test set is its training
    set.
    """
    check_choice(name, SYNTHETIC, "synthetic dataset")
    if name == "linear":
        train_key, test_key = jax.random.split(key)
        x_tr, y_tr = make_linear(train_key)
        x_te, y_te = make_linear(test_key)
        return Dataset(x_tr, y_tr, x_te, y_te, None, name)
    if name == "polynomial":
        return make_polynomial(key)
    if name == "attention":
        return make_attention(key)
    if name == "xor":
        X, y = make_xor()
        return Dataset(X, y, X.copy(), y.copy(), 2, name)
    if name == "blobs":
        X, y = make_blobs(key, 400)  # one draw, so train and test share the separating plane
        return Dataset(X[:200], y[:200], X[200:], y[200:], 2, name)
    return make_high_dim(key)
