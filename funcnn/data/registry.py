"""Every data set by name: :data:`DATASETS` and :func:`load`."""

from __future__ import annotations

import os

import jax
import numpy as np

from funcnn.checks import check_choice, check_fraction, check_int
from funcnn.data.dataset import Dataset, as_float32
from funcnn.data.mnist1d import load_mnist1d
from funcnn.data.sklearn_sets import SKLEARN, load_sklearn
from funcnn.data.splits import standardize as standardize_inputs
from funcnn.data.splits import train_val_split
from funcnn.data.synthetic import SYNTHETIC, load_synthetic

#: The names :func:`load` accepts.
DATASETS: tuple[str, ...] = ("mnist1d", *SKLEARN, *SYNTHETIC)


def load(
    name: str,
    *,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    standardize: bool = True,
    val_fraction: float = 0.0,
) -> Dataset:
    """Load any set of :data:`DATASETS` as a :class:`Dataset` (see the table of
    :mod:`funcnn.data`).

    Steps, each reproducible from ``seed``: ``key = jax.random.key(seed)`` is split into
    ``data_key`` (draws a synthetic set) and ``val_key`` (the validation split); the
    scikit-learn test split is :func:`load_sklearn` with the same ``seed``. MNIST-1D is always
    the published set (generator seed 42, its own 4000/1000 split; see :func:`load_mnist1d`
    for other draws), so ``seed`` only changes its validation split.

    1. train/test as in the package table;
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
    seed = check_int(seed, "seed")
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(f"standardize must be True or False; got {standardize!r}.")
    val_fraction = check_fraction(val_fraction, "val_fraction")
    data_key, val_key = jax.random.split(jax.random.key(seed))
    if name == "mnist1d":
        ds = load_mnist1d(cache_dir)
    elif name in SKLEARN:
        ds = load_sklearn(name, seed=seed)
    else:
        ds = load_synthetic(name, data_key)
    x_tr, y_tr, x_val, y_val = ds.x_train, ds.y_train, None, None
    if val_fraction > 0:
        x_tr, y_tr, x_val, y_val = train_val_split(val_key, x_tr, y_tr, val_fraction)
    x_te = ds.x_test
    if standardize:
        if x_val is None:
            x_tr, x_te = standardize_inputs(x_tr, x_te)
        else:
            x_tr, x_val, x_te = standardize_inputs(x_tr, x_val, x_te)
            x_val = as_float32(x_val)
    return Dataset(
        as_float32(x_tr), y_tr, as_float32(x_te), ds.y_test, ds.n_classes, name, x_val, y_val
    )
