"""Data sets, splits and minibatches.

Everything here returns plain numpy arrays except :func:`epoch_batches`, which is a jit-able
jax function that feeds a ``jax.lax.scan`` epoch. Conventions (see :class:`Dataset`):

* inputs ``x`` are float32 ``(n, d)``;
* classification targets are int32 ``(n,)`` class labels (``funcnn.ops.one_hot`` turns them
  into ``(n, n_classes)``; it is re-exported here as :func:`one_hot`);
* regression targets are float32 ``(n, k)``.

Sources, all offline:

==============  =======================================================  ===========  =====
name            what                                                     train/test   task
==============  =======================================================  ===========  =====
linear          ``y = X w + b + eps``, w = (2, -3.4), b = 4.2, std 0.01  1000/1000    reg
polynomial      D2L curve fitting, features ``x^i / i!``, i = 0..20      100/100      reg
attention       ``y = 2 sin x + x^0.8 + eps`` (Nadaraya-Watson)          50/50        reg
xor             the four points of {0,1}^2, label x1 XOR x2              4/4 (same)   2
blobs           two Gaussian blobs, linearly separable with a margin     200/200      2
high_dim        d = 200, 20 train samples (weight decay), w = 0.01       20/100       reg
mnist1d         MNIST-1D from the ``mnist1d`` generator, cached on disk  4000/1000    10
digits          sklearn 8x8 digits                                       1438/359     10
iris            sklearn iris                                             120/30       3
breast_cancer   sklearn breast cancer (Wisconsin)                        456/113      2
diabetes        sklearn diabetes                                         354/88       reg
==============  =======================================================  ===========  =====

The synthetic sets follow the digest (``seeds/001``, sections 3 and 11), which follows the
Dive-into-Deep-Learning setups listed in ``REFERENCES.md``. scikit-learn and mnist1d are
imported only when one of their sets is requested (``pip install "funcnn[experiments]"``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import random
import sys
import types
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.checks import check_batch, check_choice, check_positive_int, check_same_batch
from funcnn.io import write_npz
from funcnn.ops import one_hot

__all__ = [
    "DATASETS",
    "Dataset",
    "epoch_batches",
    "fit_standardizer",
    "apply_standardizer",
    "iterate_batches",
    "kfold_indices",
    "load",
    "load_mnist1d",
    "load_sklearn",
    "make_attention",
    "make_blobs",
    "make_high_dim",
    "make_linear",
    "make_polynomial",
    "make_xor",
    "mnist1d_cache_path",
    "one_hot",
    "polynomial_features",
    "resolve_cache_dir",
    "standardize",
    "train_test_split",
    "train_val_split",
]

SYNTHETIC = ("linear", "polynomial", "attention", "xor", "blobs", "high_dim")
SKLEARN = ("digits", "iris", "breast_cancer", "diabetes")
DATASETS: tuple[str, ...] = ("mnist1d", *SKLEARN, *SYNTHETIC)

#: Fraction of the scikit-learn sets held out as the test split.
SKLEARN_TEST_FRACTION = 0.2
#: The seed ``mnist1d.data.get_dataset_args()`` uses: the published MNIST-1D.
MNIST1D_SEED = 42
_MNIST1D_FORMAT = 1  # bump when the cache layout changes; old files are then ignored
_INSTALL_HINT = 'Install the optional dependencies with: pip install "funcnn[experiments]"'


class Dataset(NamedTuple):
    """A train/test (and optional validation) split of one data set.

    Attributes:
        x_train: float32 ``(n_train, d)``.
        y_train: int32 ``(n_train,)`` labels in ``[0, n_classes)``, or float32
            ``(n_train, k)`` regression targets.
        x_test: float32 ``(n_test, d)``.
        y_test: like ``y_train``, ``n_test`` rows.
        n_classes: number of classes, or ``None`` for regression.
        name: the data set's name (one of :data:`DATASETS` for :func:`load`).
        x_val: float32 ``(n_val, d)`` or ``None`` when there is no validation split.
        y_val: like ``y_train`` or ``None``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None
    name: str
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """``d``, the width of one input row."""
        return int(self.x_train.shape[1])

    @property
    def is_classification(self) -> bool:
        return self.n_classes is not None


# --------------------------------------------------------------------------------------
# argument checks


def _check_key(key, name: str = "key") -> None:
    """Accept a new-style ``jax.random.key`` or a legacy uint32 ``PRNGKey``."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and np.ndim(key) == 0:
        return
    if dtype == np.uint32 and np.shape(key) == (2,):
        return
    raise TypeError(
        f"{name} must be a single jax.random key (e.g. jax.random.key(0)); got "
        f"{type(key).__name__} with shape {np.shape(key)}."
    )


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in [0, 1); got {value!r}.")
    if not (0.0 <= float(value) < 1.0):
        raise ValueError(f"{name} must be in [0, 1); got {value!r}.")
    return float(value)


def _check_nonneg_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {v!r}.")
    return int(v)


def _check_static(v, name: str) -> None:
    if isinstance(v, jax.core.Tracer):
        raise TypeError(
            f"{name} must be a static Python value, not a traced array; pass it as a static "
            "argument, e.g. jax.jit(epoch_batches, static_argnames=('batch_size', 'drop_last'))."
        )


def _check_batch_size(batch_size, n: int) -> int:
    _check_static(batch_size, "batch_size")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > n:
        raise ValueError(
            f"batch_size must be at most the number of examples n = {n}; got {batch_size}. "
            f"Use batch_size={n} for full-batch gradient descent."
        )
    return batch_size


def _key_to_np_perm(key, n: int) -> np.ndarray:
    return np.asarray(jax.random.permutation(key, n))


def _as_np32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


# --------------------------------------------------------------------------------------
# synthetic sets


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
    _check_key(key)
    n = check_positive_int(n, "n")
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.size == 0:
        raise ValueError("w must hold at least one weight; got an empty sequence.")
    if noise < 0:
        raise ValueError(f"noise must be a standard deviation >= 0; got {noise!r}.")
    xkey, ekey = jax.random.split(key)
    X = np.asarray(jax.random.normal(xkey, (n, w.size)), dtype=np.float64)
    eps = noise * np.asarray(jax.random.normal(ekey, (n,)), dtype=np.float64)
    y = X @ w + b + eps  # y = X w + b + eps
    return _as_np32(X), _as_np32(y[:, None])


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
    degree = _check_nonneg_int(degree, "degree")
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
    return _as_np32(x[:, None] ** powers[None, :] / np.asarray(factorials)[None, :])


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
    _check_key(key)
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    degree = _check_nonneg_int(degree, "degree")
    coef = np.asarray(coefficients, dtype=np.float64).reshape(-1)
    if coef.size == 0:
        raise ValueError("coefficients must hold at least one value.")
    if noise < 0:
        raise ValueError(f"noise must be a standard deviation >= 0; got {noise!r}.")
    n = n_train + n_test
    xkey, ekey = jax.random.split(key)
    x = np.asarray(jax.random.normal(xkey, (n,)), dtype=np.float64)
    eps = noise * np.asarray(jax.random.normal(ekey, (n,)), dtype=np.float64)
    powers = np.arange(coef.size, dtype=np.float64)
    scale = np.asarray([math.factorial(i) for i in range(coef.size)], dtype=np.float64)
    y = (x[:, None] ** powers[None, :] / scale[None, :]) @ coef + eps
    feats = polynomial_features(x, degree)
    y = _as_np32(y[:, None])
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
    _check_key(key)
    n_train = check_positive_int(n_train, "n_train")
    if noise < 0:
        raise ValueError(f"noise must be a standard deviation >= 0; got {noise!r}.")
    xkey, ekey = jax.random.split(key)
    x = np.sort(5.0 * np.asarray(jax.random.uniform(xkey, (n_train,)), dtype=np.float64))
    eps = noise * np.asarray(jax.random.normal(ekey, (n_train,)), dtype=np.float64)

    def f(t):
        return 2.0 * np.sin(t) + t**0.8

    x_test = np.arange(50, dtype=np.float64) * 0.1
    return Dataset(
        _as_np32(x[:, None]),
        _as_np32((f(x) + eps)[:, None]),
        _as_np32(x_test[:, None]),
        _as_np32(f(x_test)[:, None]),
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
    _check_key(key)
    n = check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be at least 2 so that both classes appear; got {n}.")
    d = check_positive_int(d, "d")
    if not margin > 0:
        raise ValueError(f"margin must be positive; got {margin!r}.")
    if spread < 0 or distance < 0:
        raise ValueError(f"spread and distance must be >= 0; got {spread!r} and {distance!r}.")
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
    out = (_as_np32(X), y)
    return (*out, _as_np32(u)) if return_direction else out


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
    _check_key(key)
    d = check_positive_int(d, "d")
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    X, y = make_linear(key, n_train + n_test, w=np.full(d, w), b=b, noise=noise)
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], None, "high_dim")


# --------------------------------------------------------------------------------------
# splits and standardization


def train_val_split(key, x, y, val_fraction: float):
    """Hold out a random ``val_fraction`` of the examples as a validation set.

    ``n_val = round(val_fraction * n)``, at least 1 when ``val_fraction > 0``; both parts keep
    the original row order. ``val_fraction = 0`` gives empty validation arrays.

    Returns:
        ``(x_train, y_train, x_val, y_val)`` of the same array type as the inputs.
    """
    _check_key(key)
    n = check_same_batch(x, y, "x", "y")
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    n_val = round(val_fraction * n)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if n_val >= n:
        raise ValueError(
            f"val_fraction = {val_fraction} of n = {n} examples leaves no training examples."
        )
    perm = _key_to_np_perm(key, n)
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def train_test_split(key, x, y, test_fraction: float, *, stratify: bool = False):
    """Split off a random ``test_fraction`` as a test set; like :func:`train_val_split`.

    With ``stratify=True`` (integer labels ``y``) each class contributes
    ``round(test_fraction * n_c)`` examples to the test part, so small sets such as iris keep
    their class proportions.

    Returns:
        ``(x_train, y_train, x_test, y_test)``.
    """
    if not stratify:
        try:
            return train_val_split(key, x, y, test_fraction)
        except ValueError as e:
            raise ValueError(str(e).replace("val_fraction", "test_fraction")) from None
    _check_key(key)
    n = check_same_batch(x, y, "x", "y")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    labels = np.asarray(y)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"stratify=True needs integer labels y of shape (n,); got {labels.shape}.")
    perm = _key_to_np_perm(key, n)
    test = []
    for c in np.unique(labels):
        members = perm[labels[perm] == c]  # this class, in random order
        test.append(members[: round(test_fraction * members.size)])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(n), test_idx)
    if train_idx.size == 0:
        raise ValueError(f"test_fraction = {test_fraction} leaves no training examples.")
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def kfold_indices(n: int, k: int, key=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation (the digest, section 3): ``k`` disjoint validation folds.

    The folds partition ``range(n)`` exactly: their sizes differ by at most one (the first
    ``n % k`` folds get one extra example), every index lies in exactly one validation fold,
    and each fold's training indices are all the other indices. Without a key the folds are
    contiguous blocks; with a key the indices are permuted first.

    Returns:
        ``k`` pairs ``(train_idx, val_idx)`` of sorted int64 arrays.
    """
    n = check_positive_int(n, "n")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not (2 <= k <= n):
        raise ValueError(f"k must be an integer with 2 <= k <= n = {n}; got {k!r}.")
    if key is None:
        order = np.arange(n)
    else:
        _check_key(key)
        order = _key_to_np_perm(key, n)
    folds = np.array_split(order, k)
    out = []
    for j, val_idx in enumerate(folds):
        train_idx = np.concatenate([f for i, f in enumerate(folds) if i != j])
        out.append((np.sort(train_idx).astype(np.int64), np.sort(val_idx).astype(np.int64)))
    return out


def _xp(*arrays):
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def fit_standardizer(x):
    """Per-feature ``mean`` and ``std`` (population, ddof 0) of training inputs ``(n, ...)``.

    Features with zero spread (e.g. always-blank pixels of ``digits``) get ``std = 1`` so that
    standardizing them gives 0 rather than NaN.

    Returns:
        ``(mean, std)``, each of shape ``x.shape[1:]``.
    """
    check_batch(x, "x")
    xp = _xp(x)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, xp.where(std > 0, std, xp.ones_like(std))


def apply_standardizer(x, mean, std):
    """``(x - mean) / std`` row by row; ``mean`` and ``std`` from :func:`fit_standardizer`."""
    if tuple(x.shape[1:]) != tuple(np.shape(mean)):
        raise ValueError(
            f"x must have per-example shape {tuple(np.shape(mean))} (that of the training "
            f"inputs); got x.shape = {tuple(x.shape)}."
        )
    return (x - mean[None, ...]) / std[None, ...]


def standardize(x_train, *others):
    """Standardize with statistics of the training inputs only.

    ``mean`` and ``std`` are fitted on ``x_train`` and applied to it and to every array in
    ``others`` (validation, test): no statistic of held-out data leaks into the transform, so
    the training set ends with mean 0 and std 1 per feature and the others do not, in general.

    Returns:
        ``(x_train_std, *others_std)``, always a tuple.
    """
    mean, std = fit_standardizer(x_train)
    out = [apply_standardizer(x_train, mean, std)]
    for i, x in enumerate(others):
        if tuple(x.shape[1:]) != tuple(x_train.shape[1:]):
            raise ValueError(
                f"others[{i}] must have per-example shape {tuple(x_train.shape[1:])} like "
                f"x_train; got shape {tuple(x.shape)}."
            )
        out.append(apply_standardizer(x, mean, std))
    return tuple(out)


_standardize_inputs = standardize  # load() has an argument of the same name


# --------------------------------------------------------------------------------------
# minibatches


def _permutation_rounds(n: int) -> int:
    """Rounds of :func:`permutation` so that ties cannot bias it (see there)."""
    index_bits = max(1, math.ceil(math.log2(n)))
    random_bits = 32 - index_bits
    if random_bits < 8:
        raise ValueError(f"permutation supports n <= 2**24; got n = {n}.")
    # A pair keeps a non-random order only if it ties in every round: probability
    # 2^(-rounds * random_bits) per pair; keep the expected number of such pairs < 1e-3.
    pairs = n * (n - 1) / 2
    rounds = 1
    while pairs * 2.0 ** (-rounds * random_bits) > 1e-3:
        rounds += 1
    return rounds


def permutation(key, n: int) -> jax.Array:
    """A random permutation of ``range(n)`` (int32 ``(n,)``), fast under ``jax.vmap``.

    Like ``jax.random.permutation`` it sorts random keys, but it packs each element's
    random bits (high bits) and its current position (low ``ceil(log2 n)`` bits) into one
    ``uint32`` and sorts that single operand: XLA's CPU sort of one array is several times
    faster than the key-value sort, most of all for many runs at once (``fit_seeds``),
    where it dominated the epoch of small models. Elements whose random bits tie keep the
    previous round's (random) order; the number of rounds makes a pair that ties in every
    round improbable (fewer than 1e-3 such pairs expected), as ``jax.random.permutation``
    does with its own rounds.
    """
    n = check_positive_int(n, "n")
    index_bits = max(1, math.ceil(math.log2(n)))
    mask = jnp.uint32((1 << index_bits) - 1)
    position = jnp.arange(n, dtype=jnp.uint32)
    perm = position
    for r in range(_permutation_rounds(n)):
        bits = jax.random.bits(jax.random.fold_in(key, r), (n,), jnp.uint32)
        order = jnp.sort((bits & ~mask) | position) & mask  # sort by bits, ties by position
        perm = perm[order]
    return perm.astype(jnp.int32)


def iterate_batches(key, x, y, batch_size: int, drop_last: bool = True) -> Iterator[tuple]:
    """Minibatches of one epoch in the random order :func:`permutation` ``(key, n)``.

    Pass a fresh key each epoch (e.g. ``jax.random.fold_in(key, epoch)``) to reshuffle.
    ``batch_size = 1`` is single-sample SGD, ``batch_size = n`` full-batch gradient descent.
    When ``n % batch_size != 0`` the last, smaller batch is dropped (``drop_last=True``) or
    yielded (``drop_last=False``, so every example appears exactly once per epoch). Batch
    ``i`` equals batch ``i`` of :func:`epoch_batches` for the same key.

    Arguments are checked when this is called, before the first batch is requested.

    Yields:
        ``(x_batch, y_batch)`` rows of ``x`` and ``y`` (same array type as the inputs).
    """
    _check_key(key)
    n = check_same_batch(x, y, "x", "y")
    batch_size = _check_batch_size(batch_size, n)
    perm = np.asarray(permutation(key, n))
    stop = n - n % batch_size if drop_last else n

    def batches():
        for start in range(0, stop, batch_size):
            idx = perm[start : start + batch_size]
            yield x[idx], y[idx]

    return batches()


def epoch_batches(key, x, y, batch_size: int, drop_last: bool = True):
    """One epoch's shuffled minibatches stacked for ``jax.lax.scan``.

    Jit-able with ``batch_size`` and ``drop_last`` static, e.g.
    ``jax.jit(epoch_batches, static_argnames=("batch_size", "drop_last"))``. Uses the same
    permutation :func:`permutation` ``(key, n)`` as :func:`iterate_batches` (and as every
    epoch of ``funcnn.train``).

    Partial last batch (``n % batch_size = r > 0``):

    * ``drop_last=True``: the ``r`` examples left over are not used this epoch (a fresh
      permutation next epoch drops different ones). Returns ``(xb, yb)``.
    * ``drop_last=False``: the last batch is padded to full size with the first
      ``batch_size - r`` examples of the permutation and a mask marks the real entries.
      Returns ``(xb, yb, mask)`` with ``mask`` bool ``(n_batches, batch_size)``; the True
      entries hold every example exactly once. A step that computes
      ``sum(mask * loss_i) / sum(mask)`` gets exactly the unpadded batch's mean loss. The
      mask is returned (all True) even when ``r = 0``, so the output structure depends only
      on ``drop_last``.

    Args:
        key: a ``jax.random.key``.
        x: ``(n, ...)`` inputs.
        y: ``(n, ...)`` targets.
        batch_size: ``B``, ``1 <= B <= n`` (static).
        drop_last: see above (static).

    Returns:
        ``xb (n_batches, B, ...)``, ``yb (n_batches, B, ...)`` as jax arrays
        (``n_batches = n // B`` or ``ceil(n / B)``), and ``mask`` when ``drop_last=False``.
    """
    _check_key(key)
    _check_static(drop_last, "drop_last")
    n = check_same_batch(x, y, "x", "y")
    batch_size = _check_batch_size(batch_size, n)
    perm = permutation(key, n)
    if drop_last:
        n_batches = n // batch_size
        idx = perm[: n_batches * batch_size].reshape(n_batches, batch_size)
        return jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0)
    n_batches = -(-n // batch_size)
    pad = n_batches * batch_size - n
    idx = jnp.concatenate([perm, perm[:pad]]).reshape(n_batches, batch_size)
    mask = (jnp.arange(n_batches * batch_size) < n).reshape(n_batches, batch_size)
    return jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0), mask


# --------------------------------------------------------------------------------------
# MNIST-1D


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$FUNCNN_CACHE``, else ``~/.cache/funcnn``.

    It is not created here.
    """
    if cache_dir is None:
        env = os.environ.get("FUNCNN_CACHE", "")
        cache_dir = env if env else Path.home() / ".cache" / "funcnn"
    return Path(cache_dir).expanduser()


def _mnist1d_version() -> str:
    try:
        return importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(f"MNIST-1D needs the 'mnist1d' package. {_INSTALL_HINT}") from None


def _mnist1d_meta(seed: int, dataset_args: dict) -> str:
    for name in ("seed", "url"):
        if name in dataset_args:
            raise ValueError(f"dataset_args must not set {name!r}; pass seed= instead.")
    meta = {
        "format": _MNIST1D_FORMAT,
        "mnist1d": _mnist1d_version(),
        "seed": int(seed),
        "args": dict(sorted(dataset_args.items())),
    }
    try:
        return json.dumps(meta, sort_keys=True)
    except TypeError:
        raise ValueError(
            f"dataset_args values must be plain numbers, strings or lists; got {dataset_args!r}."
        ) from None


def mnist1d_cache_path(cache_dir=None, seed: int = MNIST1D_SEED, **dataset_args) -> Path:
    """Where :func:`load_mnist1d` caches this configuration: ``<cache>/mnist1d-<seed>-<hash>.npz``.

    The hash covers the seed, the generator arguments, the installed ``mnist1d`` version and
    the cache format, so a changed configuration never reads another one's file.
    """
    meta = _mnist1d_meta(seed, dataset_args)
    digest = hashlib.sha256(meta.encode()).hexdigest()[:12]
    return resolve_cache_dir(cache_dir) / f"mnist1d-{int(seed)}-{digest}.npz"


def _generate_mnist1d(seed: int, dataset_args: dict) -> dict[str, np.ndarray]:
    """Run ``mnist1d.data.make_dataset`` with ``get_dataset_args()`` updated by our arguments.

    ``make_dataset`` calls ``mnist1d.utils.set_seed(args.seed)``, which reseeds numpy's and
    Python's *global* generators; their states are saved and restored around the call so that
    loading MNIST-1D does not change the caller's random streams.
    """
    try:
        import mnist1d.data as mnist1d_data
    except ImportError as e:
        raise ImportError(
            f"MNIST-1D needs the 'mnist1d' package and its imports ({e}). {_INSTALL_HINT}"
        ) from e
    args = mnist1d_data.get_dataset_args(as_dict=True)
    unknown = sorted(set(dataset_args) - set(args))
    if unknown:
        raise ValueError(
            f"unknown MNIST-1D dataset_args {unknown}; valid names are: {', '.join(sorted(args))}."
        )
    args.update(dataset_args)
    args["seed"] = int(seed)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = mnist1d_data.make_dataset(types.SimpleNamespace(**args))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x_train": np.asarray(raw["x"], dtype=np.float32),
        "y_train": np.asarray(raw["y"], dtype=np.int32),
        "x_test": np.asarray(raw["x_test"], dtype=np.float32),
        "y_test": np.asarray(raw["y_test"], dtype=np.int32),
    }


_MNIST1D_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_mnist1d_cache(path: Path, meta: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is absent, unreadable or not this config's."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["meta"]) != meta:
                raise ValueError("written for another configuration")
            arrays = {name: z[name] for name in _MNIST1D_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        print(
            f"funcnn: ignoring unreadable cache file {path} ({e}); regenerating.", file=sys.stderr
        )
        return None
    xs = (arrays["x_train"], arrays["x_test"])
    ys = (arrays["y_train"], arrays["y_test"])
    ok = all(x.dtype == np.float32 and x.ndim == 2 for x in xs)
    ok = ok and all(y.dtype == np.int32 and y.ndim == 1 for y in ys)
    ok = ok and all(x.shape[0] == y.shape[0] for x, y in zip(xs, ys))
    ok = ok and xs[0].shape[1] == xs[1].shape[1]
    if not ok:
        print(f"funcnn: cache file {path} has unexpected arrays; regenerating.", file=sys.stderr)
        return None
    return arrays


def load_mnist1d(
    cache_dir: str | os.PathLike | None = None,
    seed: int = MNIST1D_SEED,
    *,
    regenerate: bool = False,
    verbose: bool = True,
    **dataset_args,
) -> Dataset:
    """MNIST-1D (Greydanus), generated locally by the ``mnist1d`` package and cached.

    Generation is ``mnist1d.data.make_dataset(args)`` with ``args =
    mnist1d.data.get_dataset_args()`` (5,000 sequences of length 40, 80% train) and
    ``args.seed = seed``: the generator seeds numpy's global RNG with ``args.seed``, so the
    default ``seed=42`` (the package's own default) reproduces the published MNIST-1D, and any
    other seed draws a different sample of the same distribution. Nothing is downloaded. The
    generator already centres the whole set and scales it to std 1; no other transform is
    applied here.

    The arrays are cached at :func:`mnist1d_cache_path` (under ``cache_dir``, else
    ``$FUNCNN_CACHE``, else ``~/.cache/funcnn``), written atomically; a cache file that cannot
    be read completely, or that belongs to another configuration, is regenerated.

    Args:
        cache_dir: cache folder (created if needed).
        seed: the generator's ``args.seed``.
        regenerate: ignore an existing cache file and write a new one.
        verbose: say on stderr when generating (about 3 s plus 1.5 s of imports).
        **dataset_args: overrides of ``get_dataset_args()``, e.g. ``shuffle_seq=True`` for the
            spatially shuffled variant.

    Returns:
        a :class:`Dataset`: x float32 ``(4000, 40)`` / ``(1000, 40)``, y int32, 10 classes.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}.")
    meta = _mnist1d_meta(seed, dataset_args)
    path = mnist1d_cache_path(cache_dir, seed, **dataset_args)
    arrays = None if regenerate else _read_mnist1d_cache(path, meta)
    if arrays is None:
        if verbose:
            print(f"funcnn: generating MNIST-1D (seed {seed}) into {path}", file=sys.stderr)
        arrays = _generate_mnist1d(seed, dataset_args)
        write_npz(path, {**arrays, "meta": np.asarray(meta)})
    return Dataset(
        arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], 10, "mnist1d"
    )


# --------------------------------------------------------------------------------------
# scikit-learn's bundled sets


def load_sklearn(
    name: str, *, seed: int = 0, test_fraction: float = SKLEARN_TEST_FRACTION
) -> Dataset:
    """One of the small sets shipped inside scikit-learn (no network): digits, iris,
    breast_cancer, diabetes, via ``sklearn.datasets.load_<name>()``.

    The test split is ``test_fraction`` of the examples drawn with ``jax.random.key(seed)``,
    stratified by class for the classification sets. Features are returned unscaled (diabetes
    comes mean-centred and scaled by scikit-learn itself); diabetes targets are float32
    ``(n, 1)`` disease-progression scores, the others int32 labels.
    """
    check_choice(name, SKLEARN, "scikit-learn dataset")
    try:
        from sklearn import datasets as skd
    except ImportError as e:
        raise ImportError(f"the {name!r} dataset needs scikit-learn ({e}). {_INSTALL_HINT}") from e
    bunch = getattr(skd, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float32)
    key = jax.random.key(seed)
    if name == "diabetes":
        y = np.asarray(bunch.target, dtype=np.float32)[:, None]
        x_tr, y_tr, x_te, y_te = train_test_split(key, x, y, test_fraction)
        return Dataset(x_tr, y_tr, x_te, y_te, None, name)
    y = np.asarray(bunch.target, dtype=np.int32)
    x_tr, y_tr, x_te, y_te = train_test_split(key, x, y, test_fraction, stratify=True)
    return Dataset(x_tr, y_tr, x_te, y_te, int(y.max()) + 1, name)


# --------------------------------------------------------------------------------------
# one entry point


def _load_synthetic(name: str, key) -> Dataset:
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
    assert name == "high_dim", name
    return make_high_dim(key)


def load(
    name: str,
    *,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    standardize: bool = True,
    val_fraction: float = 0.0,
) -> Dataset:
    """Load any set of :data:`DATASETS` as a :class:`Dataset` (see the module table).

    Steps, each reproducible from ``seed``: ``key = jax.random.key(seed)`` is split into
    ``data_key`` (draws a synthetic set) and ``val_key`` (the validation split); the
    scikit-learn test split is :func:`load_sklearn` with the same ``seed``. MNIST-1D is always the published set (generator seed 42, its own 4000/1000
    split; see :func:`load_mnist1d` for other draws), so ``seed`` only changes its validation
    split.

    1. train/test as in the module table;
    2. if ``val_fraction > 0``, that fraction of the *training* rows becomes ``x_val, y_val``
       (:func:`train_val_split`);
    3. if ``standardize``, per-feature mean and std are fitted on the remaining training
       inputs and applied to train, validation and test inputs (:func:`standardize`). This
       applies to every set, the synthetic ones included: pass ``standardize=False`` (or call
       the ``make_*`` generator) to keep a generating formula exact, e.g. to recover
       ``w = (2, -3.4)`` from "linear" or to keep the ``x^i / i!`` features of "polynomial".
       Targets are never transformed.

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names), ``val_fraction``
            outside ``[0, 1)``.
    """
    check_choice(name, DATASETS, "dataset")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}.")
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(f"standardize must be True or False; got {standardize!r}.")
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    data_key, val_key = jax.random.split(jax.random.key(seed))
    if name == "mnist1d":
        ds = load_mnist1d(cache_dir)
    elif name in SKLEARN:
        ds = load_sklearn(name, seed=seed)
    else:
        ds = _load_synthetic(name, data_key)
    x_tr, y_tr, x_val, y_val = ds.x_train, ds.y_train, None, None
    if val_fraction > 0:
        x_tr, y_tr, x_val, y_val = train_val_split(val_key, x_tr, y_tr, val_fraction)
    x_te = ds.x_test
    if standardize:
        if x_val is None:
            x_tr, x_te = _standardize_inputs(x_tr, x_te)
        else:
            x_tr, x_val, x_te = _standardize_inputs(x_tr, x_val, x_te)
            x_val = _as_np32(x_val)
    return Dataset(
        _as_np32(x_tr), y_tr, _as_np32(x_te), ds.y_test, ds.n_classes, name, x_val, y_val
    )
