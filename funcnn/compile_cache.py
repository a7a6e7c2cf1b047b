"""JAX's persistent compilation cache, kept in funcnn's cache folder.

XLA compiles every program of a run (the epoch, the evaluations, the parameter draw, the
small eager operations) afresh in every process: on 2 CPU cores that is most of a short
``funcnn train``. With the persistent cache switched on, a compiled executable is written to
``<cache>/jax`` (``<cache>`` is :func:`funcnn.data.resolve_cache_dir`: ``$FUNCNN_CACHE`` or
``~/.cache/funcnn``) and the next process that compiles the same program with the same
jax/jaxlib version, device and compiler options reads it back instead.

``funcnn`` (the command), ``python -m experiments`` and the untimed ``python -m benchmarks
--suite smoke`` switch it on with :func:`enable`; the timed benchmark suites leave it off so
that their compile times stay cold. Switch it off with ``FUNCNN_COMPILE_CACHE=off`` (or
``--no-compile-cache``); ``FUNCNN_COMPILE_CACHE=on`` switches it on where it is off by
default, and any other value is taken as the cache folder. A library user switches it on by
calling :func:`enable` before the first compilation.

JAX caches only programs that took longer than ``jax_persistent_cache_min_compile_time_secs``
(1 s by default) to compile, which would leave out every program of a small run; funcnn
lowers the threshold to :data:`MIN_COMPILE_TIME_S` and lifts the minimum entry size, and
bounds the folder to :data:`MAX_SIZE_BYTES` (least recently used entries are deleted; JAX
needs the ``filelock`` package for this, a dependency of funcnn — where it is missing the
folder grows until it is deleted, and ``rm -r ~/.cache/funcnn/jax`` is always safe).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

#: The environment variable: ``off``/``0``/``false``/``no``, ``on``/``1``/``true``/``yes``,
#: or the cache folder.
ENV = "FUNCNN_COMPILE_CACHE"
#: Programs that took at least this long to compile are written (0: every program).
MIN_COMPILE_TIME_S = 0.0
#: The cache folder's size limit; JAX deletes the least recently used entries beyond it.
MAX_SIZE_BYTES = 2 * 1024**3

_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")
_status: dict[str, Any] = {"enabled": False, "directory": None, "reason": "not switched on"}


def default_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``<cache>/jax``, with ``<cache>`` from :func:`funcnn.data.resolve_cache_dir`."""
    from funcnn.data import resolve_cache_dir

    return resolve_cache_dir(cache_dir) / "jax"


def requested(default: bool = True, environ=None) -> tuple[bool, Path | None, str]:
    """``(on, directory, reason)`` that :data:`ENV` asks for (``default`` when it is unset;
    ``directory`` None: the default folder)."""
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if value.lower() in _OFF:
        return False, None, f"{ENV}={value}"
    if value.lower() in _ON:
        return True, None, f"{ENV}={value}"
    if value:
        return True, Path(value).expanduser(), f"{ENV}={value}"
    return default, None, "on by default" if default else "off by default"


def enable(directory: str | os.PathLike | None = None, *, default: bool = True) -> dict:
    """Switch JAX's persistent compilation cache on (unless :data:`ENV` says off).

    Call it before the first compilation: JAX decides once per process whether it uses
    the cache. A folder that the user gave JAX itself (``JAX_COMPILATION_CACHE_DIR``) is
    kept.

    Args:
        directory: the cache folder (default: :data:`ENV` if it names one, else
            :func:`default_dir`).
        default: whether the cache is on when :data:`ENV` is unset.

    Returns:
        :func:`status`: ``{"enabled", "directory", "reason"}``.
    """
    import jax

    on, env_dir, reason = requested(default)
    if not on:
        return _set(False, None, reason)
    given = jax.config.jax_compilation_cache_dir
    if given:
        path, reason = Path(given), "JAX_COMPILATION_CACHE_DIR"
    else:
        path = Path(directory) if directory is not None else env_dir or default_dir()
        jax.config.update("jax_compilation_cache_dir", os.fspath(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # -1: any size
    if importlib.util.find_spec("filelock") is not None:  # JAX's size limit needs it
        jax.config.update("jax_compilation_cache_max_size", MAX_SIZE_BYTES)
    return _set(True, path, reason)


def disable(reason: str = "switched off") -> dict:
    """Record that the cache stays off (``--no-compile-cache``); returns :func:`status`."""
    return _set(False, None, reason)


def status() -> dict:
    """``{"enabled": bool, "directory": str | None, "reason": str}``, as the last
    :func:`enable` or :func:`disable` of this process left it (recorded in metrics.json)."""
    return dict(_status)


def _set(enabled: bool, directory: Path | None, reason: str) -> dict:
    _status.update(
        enabled=enabled,
        directory=None if directory is None else os.fspath(directory),
        reason=reason,
    )
    return status()
