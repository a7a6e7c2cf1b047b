"""What the data tests share: a key, the sizes of the named sets, and the checks every loaded\nDataset must pass."""

import jax
import numpy as np

KEY = jax.random.key(0)

# name: (n_train, n_test, d, n_classes) as in the table of funcnn.data
SYNTHETIC_SIZES = {
    "linear": (1000, 1000, 2, None),
    "polynomial": (100, 100, 21, None),
    "attention": (50, 50, 1, None),
    "xor": (4, 4, 2, 2),
    "blobs": (200, 200, 2, 2),
    "high_dim": (20, 100, 200, None),
}
SKLEARN_SIZES = {
    "digits": (1438, 359, 64, 10),
    "iris": (120, 30, 4, 3),
    "breast_cancer": (456, 113, 30, 2),
    "diabetes": (354, 88, 10, None),
}


def check_dataset(ds, n_train, n_test, d, n_classes):
    """Shapes, dtypes and array types of a Dataset, and labels that use every class."""
    assert ds.x_train.shape == (n_train, d) and ds.x_test.shape == (n_test, d)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert isinstance(ds.x_train, np.ndarray) and isinstance(ds.y_train, np.ndarray)
    assert ds.n_classes == n_classes and ds.n_features == d
    assert ds.is_classification == (n_classes is not None)
    if n_classes is None:
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (n_train, 1)
        assert ds.y_test.dtype == np.float32 and ds.y_test.shape == (n_test, 1)
    else:
        assert ds.y_train.dtype == np.int32 and ds.y_train.shape == (n_train,)
        assert ds.y_test.dtype == np.int32 and ds.y_test.shape == (n_test,)
        assert set(np.unique(ds.y_train).tolist()) == set(range(n_classes))
    assert np.all(np.isfinite(ds.x_train)) and np.all(np.isfinite(ds.x_test))


def arrays_of(ds):
    """The four arrays of a Dataset as load_mnist1d's generator returns them."""
    return {"x_train": ds.x_train, "y_train": ds.y_train, "x_test": ds.x_test, "y_test": ds.y_test}


def assert_same_dataset(a, b):
    """The four arrays are equal, dtypes included."""
    for x, y in zip(a[:4], b[:4], strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype
