"""The small sets bundled inside scikit-learn (no network): digits, iris, breast_cancer,
diabetes, with a seeded, class-stratified test split."""

from __future__ import annotations

import jax
import numpy as np

from funcnn.checks import check_choice
from funcnn.data.dataset import INSTALL_HINT, Dataset
from funcnn.data.splits import train_test_split

#: The names :func:`load_sklearn` (and :func:`funcnn.data.load`) accept.
SKLEARN = ("digits", "iris", "breast_cancer", "diabetes")
#: Fraction of the scikit-learn sets held out as the test split.
SKLEARN_TEST_FRACTION = 0.2


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
        raise ImportError(f"the {name!r} dataset needs scikit-learn ({e}). {INSTALL_HINT}") from e
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
