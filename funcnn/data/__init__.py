"""Data sets, splits and minibatches.

Everything here returns plain numpy arrays except :func:`epoch_batches` (and
:func:`permutation`), jit-able jax functions that feed a ``jax.lax.scan`` epoch. Conventions
(see :class:`Dataset`):

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

Where each part lives (every name below is re-exported here):

* ``dataset``: the :class:`Dataset` tuple;
* ``synthetic``: the ``make_*`` generators of the notes and :func:`polynomial_features`;
* ``splits``: :func:`train_val_split`, :func:`train_test_split`, :func:`kfold_indices` and
  standardization with training statistics only;
* ``batches``: :func:`permutation`, the one example order behind :func:`iterate_batches`,
  :func:`epoch_batches` and the epochs of ``funcnn.train``;
* ``mnist1d``: generating MNIST-1D, its atomic cache file and reading it back (a damaged file
  is reported and regenerated);
* ``sklearn_sets``: scikit-learn's bundled sets;
* ``registry``: :data:`DATASETS` and :func:`load`, every set by name;
* ``augment``: :class:`Augment`, on-device random shifts, scales, shears and noise of
  sequences, as MNIST-1D's generator makes them.

Argument checks (keys, fractions, batch sizes, static arguments) live in ``funcnn.checks``.
"""

from funcnn.data.augment import Augment
from funcnn.data.batches import epoch_batches, iterate_batches, permutation, permutation_rounds
from funcnn.data.dataset import Dataset
from funcnn.data.mnist1d import (
    MNIST1D_SEED,
    generate_mnist1d,
    load_mnist1d,
    mnist1d_cache_path,
    resolve_cache_dir,
)
from funcnn.data.registry import DATASETS, load
from funcnn.data.sklearn_sets import SKLEARN, SKLEARN_TEST_FRACTION, load_sklearn
from funcnn.data.splits import (
    apply_standardizer,
    fit_standardizer,
    kfold_indices,
    standardize,
    train_test_split,
    train_val_split,
)
from funcnn.data.synthetic import (
    SYNTHETIC,
    load_synthetic,
    make_attention,
    make_blobs,
    make_high_dim,
    make_linear,
    make_polynomial,
    make_xor,
    polynomial_features,
)
from funcnn.ops import one_hot

# The name under which the sort rounds were importable before batches had a module of its own.
_permutation_rounds = permutation_rounds

__all__ = [
    "Augment",
    "DATASETS",
    "MNIST1D_SEED",
    "SKLEARN",
    "SKLEARN_TEST_FRACTION",
    "SYNTHETIC",
    "Dataset",
    "apply_standardizer",
    "epoch_batches",
    "fit_standardizer",
    "generate_mnist1d",
    "iterate_batches",
    "kfold_indices",
    "load",
    "load_mnist1d",
    "load_sklearn",
    "load_synthetic",
    "make_attention",
    "make_blobs",
    "make_high_dim",
    "make_linear",
    "make_polynomial",
    "make_xor",
    "mnist1d_cache_path",
    "one_hot",
    "permutation",
    "permutation_rounds",
    "polynomial_features",
    "resolve_cache_dir",
    "standardize",
    "train_test_split",
    "train_val_split",
]
