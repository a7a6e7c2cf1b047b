"""Result files written atomically, and the learning-curve figure.

Every file is first written to a temporary file in the destination directory and then moved
over the destination with ``os.replace`` (atomic on POSIX): a reader sees the old file or
the complete new one, never a partial write.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable, *, binary: bool = False) -> str:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``."""
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


def to_jsonable(obj: Any) -> Any:
    """Numpy/jax scalars and arrays to Python numbers and lists; NaN/inf to strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return to_jsonable(np.asarray(obj).tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return repr(obj)


def write_json(path, obj) -> str:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(to_jsonable(obj), indent=2) + "\n"
    return atomic_write(path, lambda f: f.write(text))


def plot_history(history: dict, path, *, title: str = "") -> str:
    """Learning curves (loss and, if present, accuracy per epoch) as a PNG, atomically.

    ``history`` values are per-epoch lists of numbers, or ``(runs, epochs)`` arrays for
    several runs (drawn as the mean with a min-max band). Uses matplotlib's Agg canvas
    directly (no pyplot state, no display needed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = np.asarray(history["epoch"])
    panels = [("loss", ["loss", "train_loss", "val_loss", "test_loss"])]
    if any(k.endswith("accuracy") for k in history):
        panels.append(("accuracy", ["train_accuracy", "val_accuracy", "test_accuracy"]))
    fig = Figure(figsize=(5.0 * len(panels), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    labels = {"loss": "training objective (minibatches)"}
    for i, (name, keys) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in keys:
            if k not in history:
                continue
            v = np.asarray(history[k], dtype=float)
            if v.ndim == 2:  # (runs, epochs)
                ax.plot(epochs, v.mean(axis=0), label=f"{labels.get(k, k)} (mean of {len(v)})")
                ax.fill_between(epochs, v.min(axis=0), v.max(axis=0), alpha=0.2)
            else:
                ax.plot(epochs, v, label=labels.get(k, k))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if name == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
