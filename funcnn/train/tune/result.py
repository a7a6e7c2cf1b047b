"""The points of a search, its result, and their table, JSON and pasteable recipe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from funcnn.data import Augment
from funcnn.io import provenance, to_jsonable, write_json
from funcnn.train.registry import Recipe
from funcnn.train.tune.spaces import Space, plain


class Point(NamedTuple):
    """One point of a search and its validation scores.

    Attributes:
        group: the static settings, ``{axis: value}``.
        value: the grid hyperparameter's value.
        val_accuracy: per seed (``(seeds,)``); None for regression or when it diverged.
        val_loss: per seed; None when it diverged.
        train_accuracy: per seed (evaluated at the end of training), or None.
        diverged: the message of the divergence, or None.
    """

    group: dict[str, Any]
    value: float
    val_accuracy: np.ndarray | None
    val_loss: np.ndarray | None
    train_accuracy: np.ndarray | None = None
    diverged: str | None = None

    @property
    def score(self) -> tuple[float, float]:
        """What the search maximizes: (mean validation accuracy, -mean validation loss);
        for regression (-mean validation loss, 0); ``-inf`` when the point diverged."""
        if self.val_loss is None:
            return (-np.inf, -np.inf)
        loss = float(np.mean(self.val_loss))
        if self.val_accuracy is None:
            return (-loss, 0.0)
        return (float(np.mean(self.val_accuracy)), -loss)


class TuneResult(NamedTuple):
    """What :func:`tune` returns.

    Attributes:
        model: the model's name.
        dataset: the dataset's name.
        budget: the budget's name (or "custom" for a given space).
        space: the :class:`Space` searched.
        grid_name: the grid hyperparameter.
        points: every :class:`Point`, groups in order, grid values within.
        best: the index of the chosen point in ``points``.
        recipe: the chosen :class:`~funcnn.train.Recipe` (the model's recipe with the space's
            fixed settings and the chosen point over it).
        test: the chosen recipe on the whole training set: ``seeds``, ``test_accuracy``
            (per seed), ``mean``, ``std``, ``min``, ``max``, ``wall_time_s``, ``fit_time_s``
            (of the vmapped runs); None when no final seeds were asked for.
        search_time_s: seconds of the search.
        wall_time_s: seconds of the whole call.
    """

    model: str
    dataset: str
    budget: str
    space: Space
    grid_name: str
    points: list[Point]
    best: int
    recipe: Recipe
    test: dict[str, Any] | None
    search_time_s: float
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able values (what ``tune.json`` holds, less provenance)."""
        points = []
        for i, p in enumerate(self.points):
            points.append(
                {
                    "index": i,
                    "group": {k: plain(v) for k, v in p.group.items()},
                    self.grid_name: p.value,
                    "val_accuracy_mean": None if p.val_accuracy is None else p.score[0],
                    "val_accuracy_std": _std(p.val_accuracy),
                    "val_loss_mean": None if p.val_loss is None else float(np.mean(p.val_loss)),
                    "val_accuracy": p.val_accuracy,
                    "val_loss": p.val_loss,
                    "train_accuracy": p.train_accuracy,
                    "diverged": p.diverged,
                    "chosen": i == self.best,
                }
            )
        return to_jsonable(
            {
                "model": self.model,
                "dataset": self.dataset,
                "budget": self.budget,
                "space": self.space.to_dict(),
                "grid_name": self.grid_name,
                "points": points,
                "best": self.best,
                "recipe": {
                    "model": {k: plain(v) for k, v in self.recipe.model.items()},
                    "run": {k: plain(v) for k, v in self.recipe.run.items()},
                },
                "recipe_source": recipe_source(self.model, self.recipe),
                "test": self.test,
                "search_time_s": self.search_time_s,
                "wall_time_s": self.wall_time_s,
            }
        )


def _std(a) -> float | None:
    return None if a is None else float(np.std(a))


def describe(group: Mapping[str, Any]) -> str:
    parts = []
    for k, v in group.items():
        if isinstance(v, Augment):
            v = ",".join(f"{f}={x}" for f, x in v.to_config().items() if x) or "none"
        elif isinstance(v, tuple | list):
            v = ",".join(str(x) for x in v)
        parts.append(f"{k}={'none' if v is None else v}")
    return " ".join(parts) or "(recipe)"


def _source(value) -> str:
    if isinstance(value, Augment):
        fields = ", ".join(f"{k}={v!r}" for k, v in value.to_config().items() if v)
        return f"Augment({fields})"
    if isinstance(value, float):
        return repr(value) if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:g}"
    return repr(value)


def recipe_source(model: str, recipe: Recipe) -> str:
    """The entry of ``registry.RECIPES`` for ``recipe``, as Python to paste."""
    items = ", ".join(f"{k!r}: {_source(v)}" for k, v in recipe.model.items())
    run = ",\n".join(f"        {k!r}: {_source(v)}" for k, v in recipe.run.items())
    return f"{model!r}: Recipe(\n    {{{items}}},\n    {{\n{run},\n    }},\n),"


def format_table(result: TuneResult) -> str:
    """Every point as a row: group, grid value, validation accuracy mean +- std and per
    seed; the chosen row marked with ``*``."""
    axes = list(result.space.axes)
    metric = "val acc" if any(p.val_accuracy is not None for p in result.points) else "val loss"
    head = ["", *axes, result.grid_name, metric, "+-", "per seed"]
    rows = []
    for i, p in enumerate(result.points):
        cells = ["*" if i == result.best else ""]
        cells += [describe({a: p.group[a]}).split("=", 1)[1] for a in axes]
        cells.append(f"{p.value:g}")
        values = p.val_loss if p.val_accuracy is None else p.val_accuracy
        if values is None:
            cells += ["diverged", "", ""]
        else:
            cells += [
                f"{np.mean(values):.4f}",
                f"{np.std(values):.4f}",
                " ".join(f"{v:.3f}" for v in values),
            ]
        rows.append(cells)
    widths = [max(len(str(r[j])) for r in [head, *rows]) for j in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    return "\n".join(lines)


def write_result(result: TuneResult, path) -> str:
    """``tune.json`` (the result, with the versions and the device), written atomically."""
    return write_json(path, {**result.to_dict(), **provenance()})
