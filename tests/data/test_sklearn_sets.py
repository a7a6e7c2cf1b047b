"""funcnn.data.sklearn_sets: scikit-learn's bundled sets, split into train and test by seed,
stratified by class."""

import sys

import numpy as np
import pytest
from sklearn import datasets

from funcnn import data as D
from tests.data.helpers import SKLEARN_SIZES, check_dataset


def test_sklearn_names():
    assert set(D.SKLEARN) == set(SKLEARN_SIZES)


@pytest.mark.parametrize("name", sorted(SKLEARN_SIZES))
def test_sklearn_sets_partition_the_bundled_set(name):
    ds = D.load_sklearn(name, seed=0)
    check_dataset(ds, *SKLEARN_SIZES[name])
    assert ds.name == name
    np.testing.assert_array_equal(ds.x_test, D.load_sklearn(name, seed=0).x_test)
    assert not np.array_equal(ds.x_test, D.load_sklearn(name, seed=1).x_test)
    # train and test are the bundled rows, unscaled, each exactly once, with their targets
    bunch = getattr(datasets, f"load_{name}")()
    full = np.concatenate([bunch.data.astype(np.float32), bunch.target[:, None]], axis=1)
    ours = np.concatenate(
        [
            np.concatenate([ds.x_train, ds.y_train.reshape(len(ds.x_train), -1)], axis=1),
            np.concatenate([ds.x_test, ds.y_test.reshape(len(ds.x_test), -1)], axis=1),
        ]
    )
    assert len(ours) == len(full)
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(full, axis=0))


@pytest.mark.parametrize("name", ["digits", "iris", "breast_cancer"])
def test_classification_splits_are_stratified(name):
    ds = D.load_sklearn(name, seed=3)
    n_c = np.bincount(np.concatenate([ds.y_train, ds.y_test]))
    np.testing.assert_array_equal(np.bincount(ds.y_test), np.round(0.2 * n_c).astype(int))


def test_iris_test_split_has_ten_of_each_class():
    assert np.bincount(D.load_sklearn("iris").y_test).tolist() == [10, 10, 10]
    assert np.bincount(D.load_sklearn("iris", test_fraction=0.4).y_test).tolist() == [20, 20, 20]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown scikit-learn dataset 'wine'; valid names are: "):
        D.load_sklearn("wine")


def test_missing_sklearn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(
        ImportError, match=r'needs scikit-learn.*pip install "funcnn\[experiments\]"'
    ):
        D.load_sklearn("iris")
