"""MNIST-1D (Greydanus): generated locally by the ``mnist1d`` package, cached atomically.

Generation is :func:`generate_mnist1d`; :func:`load_mnist1d` reads the cache file at
:func:`mnist1d_cache_path` (under :func:`resolve_cache_dir`) or, when there is none or it is
damaged, generates the set and writes the file with ``funcnn.io.write_npz`` (a temporary file
renamed over the destination: a reader never sees a partial file). A cache file that cannot
be read completely, holds arrays other than the four it should, or belongs to another
configuration is named on stderr with the reason and regenerated. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import random
import sys
import types
import zipfile
import zlib
from pathlib import Path

import numpy as np

from funcnn.checks import check_int
from funcnn.data.dataset import INSTALL_HINT, Dataset
from funcnn.io import DamagedFileError, write_npz

#: The seed ``mnist1d.data.get_dataset_args()`` uses: the published MNIST-1D.
MNIST1D_SEED = 42
#: The number of classes (the ten digit templates).
MNIST1D_CLASSES = 10
#: The arrays of a cache file, besides ``meta`` (the configuration it was generated for).
MNIST1D_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_FORMAT = 1  # bump when the cache layout changes; old files are then ignored


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
        raise ImportError(f"MNIST-1D needs the 'mnist1d' package. {INSTALL_HINT}") from None


def _check_dataset_args(dataset_args: dict) -> None:
    for name in ("seed", "url"):
        if name in dataset_args:
            raise ValueError(f"dataset_args must not set {name!r}; pass seed= instead.")


def _mnist1d_meta(seed: int, dataset_args: dict) -> str:
    """The configuration a cache file is written for, as canonical JSON."""
    _check_dataset_args(dataset_args)
    meta = {
        "format": _FORMAT,
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


def generate_mnist1d(seed: int = MNIST1D_SEED, **dataset_args) -> dict[str, np.ndarray]:
    """Run ``mnist1d.data.make_dataset`` with ``get_dataset_args()`` updated by our arguments.

    ``make_dataset`` calls ``mnist1d.utils.set_seed(args.seed)``, which reseeds numpy's and
    Python's *global* generators; their states are saved and restored around the call so that
    loading MNIST-1D does not change the caller's random streams. Nothing is cached here.

    Returns:
        ``{"x_train", "y_train", "x_test", "y_test"}``: float32 ``(n, 40)`` sequences and int32
        ``(n,)`` labels (4,000 / 1,000 with the default arguments).
    """
    _check_dataset_args(dataset_args)
    try:
        import mnist1d.data as mnist1d_data
    except ImportError as e:
        raise ImportError(
            f"MNIST-1D needs the 'mnist1d' package and its imports ({e}). {INSTALL_HINT}"
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


def _describe(a: np.ndarray) -> str:
    return f"{a.dtype} {a.shape}"


def _array_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """Why these are not the arrays :func:`generate_mnist1d` returns, or None when they are."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.float32 or x.ndim != 2:
            return f"x_{split} is {_describe(x)}; expected float32 (n, length)"
        if y.dtype != np.int32 or y.ndim != 1 or y.shape[0] != x.shape[0]:
            return f"y_{split} is {_describe(y)}; expected int32 ({x.shape[0]},) like x_{split}"
        if y.size and not (0 <= y.min() and y.max() < MNIST1D_CLASSES):
            return f"y_{split} holds labels outside [0, {MNIST1D_CLASSES})"
        if not np.all(np.isfinite(x)):
            return f"x_{split} holds NaN or infinite values"
    if arrays["x_train"].shape[1] != arrays["x_test"].shape[1]:
        return "x_train and x_test have sequences of different lengths"
    return None


def _read_cache(path: Path, meta: str) -> dict[str, np.ndarray]:
    """The four arrays of the cache file at ``path``, written for ``meta``.

    Raises:
        DamagedFileError: naming the file and why it cannot be used.
    """
    if path.stat().st_size == 0:
        raise DamagedFileError(path, "the file is empty")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [name for name in (*MNIST1D_ARRAYS, "meta") if name not in z.files]
            if missing:
                raise DamagedFileError(path, f"the arrays {missing} are missing")
            if str(z["meta"]) != meta:
                raise DamagedFileError(path, "it was written for another configuration")
            arrays = {name: z[name] for name in MNIST1D_ARRAYS}
    except DamagedFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        why = f"it cannot be read as an .npz archive ({type(e).__name__}: {e})"
        raise DamagedFileError(path, why) from None
    problem = _array_problem(arrays)
    if problem is not None:
        raise DamagedFileError(path, problem)
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
    ``$FUNCNN_CACHE``, else ``~/.cache/funcnn``), written atomically. A cache file that cannot
    be read completely (truncated, half-written, corrupt), holds other arrays, or belongs to
    another configuration is named on stderr with the reason, whatever ``verbose``, and
    regenerated.

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
    seed = check_int(seed, "seed")
    meta = _mnist1d_meta(seed, dataset_args)
    path = mnist1d_cache_path(cache_dir, seed, **dataset_args)
    arrays = None
    if not regenerate and path.is_file():
        try:
            arrays = _read_cache(path, meta)
        except DamagedFileError as e:
            print(f"funcnn: {e} Regenerating it.", file=sys.stderr)
    if arrays is None:
        if verbose:
            print(f"funcnn: generating MNIST-1D (seed {seed}) into {path}", file=sys.stderr)
        arrays = generate_mnist1d(seed, **dataset_args)
        write_npz(path, {**arrays, "meta": np.asarray(meta)})
    x_train, y_train, x_test, y_test = (arrays[name] for name in MNIST1D_ARRAYS)
    return Dataset(x_train, y_train, x_test, y_test, MNIST1D_CLASSES, "mnist1d")
