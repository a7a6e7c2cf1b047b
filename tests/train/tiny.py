"""The tiny problems every training test shares, so that compiled epochs are shared too.

A 4-8-3 tanh MLP with dropout on 48 points of three Gaussian blobs: ``fit`` and
``fit_seeds`` calls with the settings of :data:`TINY` reuse one optimizer
(``RunConfig.build_optimizer`` is cached) and so one compiled epoch (``make_epoch`` is cached).
"""

import chex
import jax
import numpy as np

import funcnn
from funcnn.data import Dataset
from funcnn.train import make_optimizer


def blobs(seed, n, d=4, q=3):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]], np.float32)[:, :d]
    y = rng.integers(0, q, n).astype(np.int32)
    x = centers[y] + rng.normal(0, 0.7, (n, d)).astype(np.float32)
    return x.astype(np.float32), y


X_TR, Y_TR = blobs(0, 48)
X_VA, Y_VA = blobs(1, 24)
X_TE, Y_TE = blobs(2, 24)
DATA = Dataset(X_TR, Y_TR, X_TE, Y_TE, 3, "blobs3")
DATA_VAL = Dataset(X_TR, Y_TR, X_TE, Y_TE, 3, "blobs3", X_VA, Y_VA)
NET = funcnn.mlp([4, 8, 3], "tanh", dropout=0.25)
TINY = dict(epochs=3, batch_size=8, progress=False, lr=0.05, optimizer="sgd")
OPT = make_optimizer("sgd", 0.05)


def close(a, b, rtol=1e-5, atol=1e-6):
    """Same structure, shapes and (nearly) values."""
    chex.assert_trees_all_equal_shapes(a, b)
    chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


def differ(a, b):
    """At least one leaf differs by more than float32 round-off."""
    return any(
        not np.allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )
