"""The :class:`Dataset` every loader returns, and the array conventions it carries."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: What to run when scikit-learn or mnist1d is missing.
INSTALL_HINT = 'Install the optional dependencies with: pip install "funcnn[experiments]"'


class Dataset(NamedTuple):
    """A train/test (and optional validation) split of one data set.

    Attributes:
        x_train: float32 ``(n_train, d)``.
        y_train: int32 ``(n_train,)`` labels in ``[0, n_classes)``, or float32
            ``(n_train, k)`` regression targets.
        x_test: float32 ``(n_test, d)``.
        y_test: like ``y_train``, ``n_test`` rows.
        n_classes: number of classes, or ``None`` for regression.
        name: the data set's name (one of :data:`funcnn.data.DATASETS` for
            :func:`funcnn.data.load`).
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


def as_float32(x) -> np.ndarray:
    """``x`` as a numpy float32 array (the dtype of every input ``x`` of a :class:`Dataset`)."""
    return np.asarray(x, dtype=np.float32)
