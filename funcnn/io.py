"""Files funcnn writes and reads back: atomic writes, JSON, and the provenance of a result.

Every file is first written to a temporary file in the destination's folder, flushed to disk,
and then moved over the destination with ``os.replace`` (atomic on POSIX): a reader sees the
old file or the complete new one, never a partial write; an interrupted write leaves only a
hidden ``.NAME.*.tmp`` file, which nothing reads. The training engine, the datasets' cache,
the experiments and the benchmarks all write through this module.

Every result records :func:`provenance`: the versions of the libraries it depends on and the
device it ran on, with the same keys everywhere.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

#: Libraries whose versions every result records (None where not installed).
CORE_PACKAGES = ("funcnn", "jax", "jaxlib", "optax", "chex", "numpy")


# --- atomic writes ------------------------------------------------------------------------


def atomic_write(path: str | os.PathLike, write: Callable, *, binary: bool = False) -> str:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``.

    The folder is created if needed; the file gets the usual permissions (``0666`` less the
    umask). Returns the absolute path written.
    """
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> str:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text))


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> str:
    """Write ``obj`` (made JSON-able by :func:`to_jsonable`) as indented JSON, atomically."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n"
    return write_text(path, text)


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> str:
    """``np.savez(path, **arrays)``, atomically."""
    return atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> str:
    """Save a matplotlib figure as PNG to ``path`` atomically (the figure is left open)."""
    return atomic_write(
        path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"), binary=True
    )


class DamagedFileError(ValueError):
    """A file funcnn wrote earlier cannot be read back (truncated, half-written, corrupt)."""

    def __init__(self, path, reason: str, fix: str = ""):
        self.path, self.reason = os.fspath(path), reason
        message = f"{self.path} is damaged: {reason}."
        super().__init__(f"{message} {fix}".strip())


def read_json(path: str | os.PathLike, *, what: str = "file", fix: str = "") -> Any:
    """Read a JSON file, raising :class:`DamagedFileError` (naming the file, what it is, why
    it cannot be read and ``fix``) instead of a bare parser error when it is not valid JSON."""
    try:
        with open(path) as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise DamagedFileError(path, f"the {what} is not text ({e.reason})", fix) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        why = "it is empty" if not text.strip() else f"invalid JSON at line {e.lineno}: {e.msg}"
        raise DamagedFileError(path, f"the {what} cannot be parsed ({why})", fix) from None


# --- JSON ---------------------------------------------------------------------------------


def to_jsonable(obj: Any) -> Any:
    """Plain Python for ``json``: arrays and NumPy/JAX scalars to numbers and lists, paths to
    strings, tuples to lists, NaN and infinities to the strings ``"nan"``, ``"inf"``,
    ``"-inf"`` (JSON has no such numbers); anything else unknown to its ``repr``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return to_jsonable(np.asarray(obj).tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if obj is None or isinstance(obj, (str, int)):
        return obj
    return repr(obj)


# --- provenance ---------------------------------------------------------------------------


def versions(packages: Iterable[str] = CORE_PACKAGES) -> dict[str, str | None]:
    """``{"python": ..., package: version or None}`` for ``packages`` (installed metadata)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def host_cpu() -> str:
    """The host CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info() -> dict[str, Any]:
    """The devices JAX computes on: ``platform``, ``device_kind``, ``count`` (this process),
    ``process_count``, the host CPU and its core count."""
    import jax

    devices = jax.local_devices()
    return {
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "count": len(devices),
        "process_count": jax.process_count(),
        "host_cpu": host_cpu(),
        "host_cores": os.cpu_count(),
    }


def provenance(packages: Iterable[str] = CORE_PACKAGES) -> dict[str, Any]:
    """``{"versions": versions(packages), "device": device_info()}``: recorded with every
    result funcnn, its experiments and its benchmarks write."""
    return {"versions": versions(packages), "device": device_info()}
