"""Held-out splits, K-fold indices and standardization with training statistics only.

Splits draw their order from ``jax.random.permutation(key, n)`` and return rows of the
arrays they are given (numpy in, numpy out; jax in, jax out). The standardizer is fitted on
training inputs only and applied to every other split, so no statistic of held-out data leaks
into the transform (the digest, section 3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.checks import (
    check_batch,
    check_fraction,
    check_key,
    check_positive_int,
    check_same_batch,
)


def _numpy_permutation(key, n: int) -> np.ndarray:
    return np.asarray(jax.random.permutation(key, n))


def _hold_out(key, x, y, fraction, name: str):
    """Rows ``perm[:n_out]`` of ``permutation(key, n)`` held out, both parts in row order."""
    check_key(key)
    n = check_same_batch(x, y, "x", "y")
    fraction = check_fraction(fraction, name)
    n_out = round(fraction * n)
    if fraction > 0:
        n_out = max(n_out, 1)
    if n_out >= n:
        raise ValueError(f"{name} = {fraction} of n = {n} examples leaves no training examples.")
    perm = _numpy_permutation(key, n)
    out_idx, train_idx = np.sort(perm[:n_out]), np.sort(perm[n_out:])
    return x[train_idx], y[train_idx], x[out_idx], y[out_idx]


def train_val_split(key, x, y, val_fraction: float):
    """Hold out a random ``val_fraction`` of the examples as a validation set.

    ``n_val = round(val_fraction * n)``, at least 1 when ``val_fraction > 0``; both parts keep
    the original row order. ``val_fraction = 0`` gives empty validation arrays.

    Returns:
        ``(x_train, y_train, x_val, y_val)`` of the same array type as the inputs.
    """
    return _hold_out(key, x, y, val_fraction, "val_fraction")


def train_test_split(key, x, y, test_fraction: float, *, stratify: bool = False):
    """Split off a random ``test_fraction`` as a test set; like :func:`train_val_split`.

    With ``stratify=True`` (integer labels ``y``) each class contributes
    ``round(test_fraction * n_c)`` examples to the test part, so small sets such as iris keep
    their class proportions.

    Returns:
        ``(x_train, y_train, x_test, y_test)``.
    """
    if not stratify:
        return _hold_out(key, x, y, test_fraction, "test_fraction")
    check_key(key)
    n = check_same_batch(x, y, "x", "y")
    test_fraction = check_fraction(test_fraction, "test_fraction")
    labels = np.asarray(y)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"stratify=True needs integer labels y of shape (n,); got {labels.shape}.")
    perm = _numpy_permutation(key, n)
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
        check_key(key)
        order = _numpy_permutation(key, n)
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
