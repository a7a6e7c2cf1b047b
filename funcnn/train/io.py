"""The learning-curve figure of a run, written atomically (:mod:`funcnn.io`)."""

from __future__ import annotations

import numpy as np

from funcnn.io import atomic_write


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
