"""funcnn.compile_cache: JAX's persistent compilation cache in funcnn's cache folder, on by
default for the commands, off with FUNCNN_COMPILE_CACHE=off or --no-compile-cache.

The suite keeps the cache off (tests/conftest.py); the commands here run in subprocesses
with FUNCNN_CACHE in a temporary folder, never the user's ~/.cache.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from funcnn import compile_cache
from funcnn.compile_cache import ENV, requested

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, (True, None, "on by default")),
        ("off", (False, None, "FUNCNN_COMPILE_CACHE=off")),
        ("0", (False, None, "FUNCNN_COMPILE_CACHE=0")),
        ("No", (False, None, "FUNCNN_COMPILE_CACHE=No")),
        ("on", (True, None, "FUNCNN_COMPILE_CACHE=on")),
        ("/x/y", (True, Path("/x/y"), "FUNCNN_COMPILE_CACHE=/x/y")),
    ],
)
def test_the_environment_switches_it(value, expected):
    environ = {} if value is None else {ENV: value}
    assert requested(environ=environ) == expected
    if value is None:
        assert requested(default=False, environ=environ) == (False, None, "off by default")


def test_the_default_folder_is_under_funcnn_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCNN_CACHE", str(tmp_path))
    assert compile_cache.default_dir() == tmp_path / "jax"
    assert compile_cache.default_dir(tmp_path / "c") == tmp_path / "c" / "jax"


def test_enable_sets_jax_config_and_off_leaves_it(tmp_path, monkeypatch):
    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
        "jax_compilation_cache_max_size",
    )
    saved = {n: getattr(jax.config, n) for n in names}
    try:
        monkeypatch.setenv(ENV, "off")
        assert compile_cache.enable(tmp_path) == {
            "enabled": False,
            "directory": None,
            "reason": "FUNCNN_COMPILE_CACHE=off",
        }
        assert jax.config.jax_compilation_cache_dir == saved["jax_compilation_cache_dir"]
        monkeypatch.delenv(ENV)
        jax.config.update("jax_compilation_cache_dir", None)
        status = compile_cache.enable(tmp_path / "jc")
        assert status == {
            "enabled": True,
            "directory": str(tmp_path / "jc"),
            "reason": "on by default",
        }
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jc")
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
        if importlib.util.find_spec("filelock") is not None:
            assert jax.config.jax_compilation_cache_max_size == compile_cache.MAX_SIZE_BYTES
        else:  # JAX cannot bound the folder without filelock: no limit, no failed reads
            assert (
                jax.config.jax_compilation_cache_max_size == saved["jax_compilation_cache_max_size"]
            )
        # A folder given to JAX itself is kept.
        assert compile_cache.enable(tmp_path / "other")["directory"] == str(tmp_path / "jc")
        assert compile_cache.disable()["enabled"] is False
    finally:
        for n, v in saved.items():
            jax.config.update(n, v)
        compile_cache.disable("reset by the test")


def _train(tmp_path, name, *flags):
    env = {k: v for k, v in os.environ.items() if k != ENV}  # the default: on
    env.update(FUNCNN_CACHE=str(tmp_path / "cache"), JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    out = tmp_path / name
    argv = ["train", "--dataset", "iris", "--hidden", "4", "--epochs", "1", "--batch-size", "30"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "funcnn",
            *argv,
            "--no-progress",
            "--no-plot",
            "--out",
            str(out),
            *flags,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_the_command_fills_the_cache_and_the_switches_keep_it_off(tmp_path):
    folder = tmp_path / "cache" / "jax"
    flag = _train(tmp_path, "flag", "--no-compile-cache")
    assert flag["compile_cache"] == {
        "enabled": False,
        "directory": None,
        "reason": "--no-compile-cache",
    }
    assert not folder.exists()  # nothing written to the cache
    first = _train(tmp_path, "first")
    assert first["compile_cache"] == {
        "enabled": True,
        "directory": str(folder),
        "reason": "on by default",
    }
    entries = sorted(p.name for p in folder.iterdir())
    assert len(entries) >= 3, entries  # the epoch, the evaluation, the parameter draw, ...
    second = _train(tmp_path, "second")
    drop = lambda final: {k: v for k, v in final.items() if k != "time_s"}  # noqa: E731
    assert drop(second["final"]) == drop(first["final"])  # the same programs, read back
    assert second["compile_time_s"] < first["compile_time_s"]
