"""funcnn.data.mnist1d: the package's own MNIST-1D, cached atomically; a damaged cache file
is named on stderr with the reason and regenerated."""

import importlib.metadata
import os
import random
import re
import sys

import numpy as np
import pytest

from funcnn import data as D
from tests.data.helpers import assert_same_dataset, check_dataset


def test_mnist1d_is_the_packages_dataset(mnist1d_cached):
    cache, ds, rng_untouched = mnist1d_cached
    check_dataset(ds, 4000, 1000, 40, 10)
    assert ds.name == "mnist1d"
    assert rng_untouched, "load_mnist1d changed numpy's or Python's global random state"
    import mnist1d.data

    state = np.random.get_state(), random.getstate()
    try:  # the package reseeds the global generators itself
        ref = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    finally:
        np.random.set_state(state[0])
        random.setstate(state[1])
    np.testing.assert_array_equal(ds.x_train, ref["x"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_train, ref["y"])
    np.testing.assert_array_equal(ds.x_test, ref["x_test"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, ref["y_test"])
    assert list(cache.iterdir()) == [D.mnist1d_cache_path(cache)]


def test_generate_mnist1d_with_other_arguments():
    small = D.generate_mnist1d(num_samples=200)
    assert [small[k].shape for k in D.mnist1d.MNIST1D_ARRAYS] == [
        (160, 40),
        (160,),
        (40, 40),
        (40,),
    ]
    assert small["x_train"].dtype == np.float32 and small["y_train"].dtype == np.int32
    again = D.generate_mnist1d(num_samples=200)
    np.testing.assert_array_equal(again["x_train"], small["x_train"])
    other = D.generate_mnist1d(seed=1, num_samples=200)
    assert not np.array_equal(other["x_train"], small["x_train"])


def test_mnist1d_cache_round_trip(mnist1d_cached, no_generation, capsys):
    cache, ds, _ = mnist1d_cached
    assert_same_dataset(D.load_mnist1d(cache_dir=cache), ds)
    assert capsys.readouterr().err == ""  # read, not generated: nothing to say


def test_mnist1d_cache_location(fake_generator, monkeypatch, tmp_path):
    env_dir = tmp_path / "from_env"
    monkeypatch.setenv("FUNCNN_CACHE", str(env_dir))
    assert D.resolve_cache_dir() == env_dir
    D.load_mnist1d(verbose=False)
    assert D.mnist1d_cache_path().parent == env_dir and D.mnist1d_cache_path().is_file()
    D.load("mnist1d")
    assert fake_generator == [42]  # the second load read the env cache
    arg_dir = tmp_path / "from_arg"  # the argument beats the environment
    D.load_mnist1d(cache_dir=arg_dir, verbose=False)
    assert fake_generator == [42, 42] and D.mnist1d_cache_path(arg_dir).is_file()
    monkeypatch.delenv("FUNCNN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert D.resolve_cache_dir() == tmp_path / "home" / ".cache" / "funcnn"
    # other configurations live in other files
    p = D.mnist1d_cache_path(arg_dir)
    assert p.name.startswith("mnist1d-42-") and p.suffix == ".npz"
    assert D.mnist1d_cache_path(arg_dir, seed=1) != p
    assert D.mnist1d_cache_path(arg_dir, shuffle_seq=True) != p


def test_regenerate_and_verbose(fake_generator, tmp_path, capsys):
    path = D.mnist1d_cache_path(tmp_path)
    D.load_mnist1d(cache_dir=tmp_path)
    assert capsys.readouterr().err == f"funcnn: generating MNIST-1D (seed 42) into {path}\n"
    D.load_mnist1d(cache_dir=tmp_path, regenerate=True, verbose=False)
    assert fake_generator == [42, 42] and capsys.readouterr().err == ""


def test_a_truncated_cache_file_is_named_and_regenerated(mnist1d_cached, tmp_path, capsys):
    cache, ds, _ = mnist1d_cached
    good = D.mnist1d_cache_path(cache).read_bytes()
    path = D.mnist1d_cache_path(tmp_path)
    path.write_bytes(good[: len(good) // 2])
    out = D.load_mnist1d(cache_dir=tmp_path, verbose=False)  # the real generator runs again
    err = capsys.readouterr().err
    assert err.startswith(f"funcnn: {path} is damaged: it cannot be read as an .npz archive")
    assert "BadZipFile" in err and err.endswith("Regenerating it.\n")
    assert_same_dataset(out, ds)
    assert path.read_bytes() == good  # the file is whole again
    assert_same_dataset(D.load_mnist1d(cache_dir=tmp_path, verbose=False), ds)
    assert capsys.readouterr().err == ""


def _rewrite(path, **changes):
    """Rewrite the cache file at ``path`` with some of its arrays replaced (None: dropped)."""
    with np.load(path) as z:
        arrays = {name: z[name] for name in z.files}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def _flip_middle_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside x_train, the largest array
    path.write_bytes(bytes(data))


def _with_nan(path):
    with np.load(path) as z:
        x = z["x_test"].copy()
    x[3, 7] = np.nan
    _rewrite(path, x_test=x)


def _shift_labels(path):
    with np.load(path) as z:
        _rewrite(path, y_test=z["y_test"] + 5)


def _drop_a_label(path):
    with np.load(path) as z:
        _rewrite(path, y_test=z["y_test"][:-1])


def _as_float64(path):
    with np.load(path) as z:
        _rewrite(path, x_train=z["x_train"].astype(np.float64))


DAMAGE = {  # name: (damage(path), reason in the message)
    "empty": (lambda p: p.write_bytes(b""), "the file is empty"),
    "corrupt": (_flip_middle_byte, r"cannot be read as an \.npz archive \(BadZipFile: Bad CRC"),
    "missing arrays": (
        lambda p: _rewrite(p, y_train=None, y_test=None),
        r"the arrays \['y_train', 'y_test'\] are missing",
    ),
    "other configuration": (
        lambda p: _rewrite(p, meta=np.asarray('{"seed": 1}')),
        "it was written for another configuration",
    ),
    "wrong dtype": (_as_float64, r"x_train is float64 \(4000, 40\); expected float32"),
    "labels out of range": (_shift_labels, r"y_test holds labels outside \[0, 10\)"),
    "fewer labels": (_drop_a_label, r"y_test is int32 \(999,\); expected int32 \(1000,\)"),
    "NaN": (_with_nan, "x_test holds NaN or infinite values"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_cache_files_are_named_and_regenerated(
    damage, mnist1d_cached, fake_generator, tmp_path, capsys
):
    cache, ds, _ = mnist1d_cached
    good = D.mnist1d_cache_path(cache).read_bytes()
    path = D.mnist1d_cache_path(tmp_path)
    path.write_bytes(good)
    damage_file, reason = DAMAGE[damage]
    damage_file(path)
    out = D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    err = capsys.readouterr().err
    assert err.startswith(f"funcnn: {path} is damaged: ")
    assert err.endswith(". Regenerating it.\n")
    assert len(err.splitlines()) == 1
    assert re.search(reason, err), err
    assert fake_generator == [42]
    assert_same_dataset(out, ds)
    assert path.read_bytes() == good


def test_stale_temporary_files_are_ignored(mnist1d_cached, fake_generator, tmp_path, capsys):
    cache, ds, _ = mnist1d_cached
    good = D.mnist1d_cache_path(cache).read_bytes()
    path = D.mnist1d_cache_path(tmp_path)
    stale = tmp_path / f".{path.name}.abc123.tmp"  # left by a killed writer
    stale.write_bytes(good[: len(good) // 2])
    D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    assert fake_generator == [42] and path.read_bytes() == good
    assert capsys.readouterr().err == ""  # nothing damaged was read


def test_mnist1d_write_is_atomic(mnist1d_cached, fake_generator, monkeypatch, tmp_path):
    cache, ds, _ = mnist1d_cached
    good = D.mnist1d_cache_path(cache).read_bytes()
    path = D.mnist1d_cache_path(tmp_path)
    real_savez = np.savez

    def dies_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    assert os.listdir(tmp_path) == []  # no final file, no temporary left behind
    monkeypatch.setattr(np, "savez", real_savez)
    D.load_mnist1d(cache_dir=tmp_path, verbose=False)
    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        D.load_mnist1d(cache_dir=tmp_path, regenerate=True, verbose=False)
    assert path.read_bytes() == good  # the complete old file is still there
    assert os.listdir(tmp_path) == [path.name]


def test_missing_mnist1d_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"'mnist1d' package.*funcnn\[experiments\]"):
        D.load_mnist1d(cache_dir=tmp_path, verbose=False)

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(ImportError, match=r"'mnist1d' package\. .*funcnn\[experiments\]"):
        D.load_mnist1d(cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seed": 1.5}, r"seed must be an integer; got 1\.5"),
        ({"seed": True}, r"seed must be an integer; got True"),
        ({"url": "x"}, r"dataset_args must not set 'url'"),
        ({"num_samples": 100, "nonsense": 1}, r"unknown MNIST-1D dataset_args \['nonsense'\]"),
        ({"padding": {1, 2}}, r"dataset_args values must be plain numbers"),
    ],
)
def test_bad_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        D.load_mnist1d(cache_dir=tmp_path, verbose=False, **kwargs)
    assert not any(tmp_path.iterdir())


def test_generate_mnist1d_rejects_a_url():
    with pytest.raises(ValueError, match=r"dataset_args must not set 'url'"):
        D.generate_mnist1d(url="https://example.org/mnist1d.pkl")
