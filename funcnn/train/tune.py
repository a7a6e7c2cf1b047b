"""Choose a model's recipe on a validation split; report the choice's test accuracy once.

:func:`tune` searches a model's :class:`Space` (the table :data:`SPACES`, one per model and
budget): the product of its *static* axes (architecture, dropout, augmentation, epochs:
whatever changes the compiled program) makes the groups; inside each group one continuous
hyperparameter (``lr`` or ``weight_decay``) times the seeds trains as one vmapped program
(:func:`funcnn.train.fit_seeds` with ``grid=``). Every run trains on the training set less a
validation split carved from it (``val_fraction``, 10% by default: 400 of MNIST-1D's 4,000
sequences) and is scored on that split only: the search never sees the test split (it is not
even passed to the engine). The point with the best mean validation accuracy over the seeds
wins (ties: lower mean validation loss, then the earlier point). Then, once, the chosen
recipe trains on the whole training set for seeds 0-3 and its test accuracy is reported with
the per-seed spread.

A point is the model's recipe (:data:`~funcnn.train.RECIPES`) with the space's fixed settings
(``Space.run``, ``Space.model``), then the group's settings and the grid value, over it. A grid value whose
run diverges (a NaN or infinite training loss) is recorded as diverged and the rest of its
group trains again without it.

The spaces (``funcnn tune --model NAME --budget full|quick|tiny``):

* ``mlp``: dropout {0, 0.1, 0.3} x augmentation {none, shift 8, shift 16 (each with scale
  0.2 and noise 0.05)} x 120 epochs, grid lr {3e-3, 7e-3, 1.5e-2}, seeds 0-1, over the
  recipe's 256-256 ReLU MLP, AdamW (weight decay 0.05), cosine decay and batch 128 (27
  points, 54 runs). An MLP does not know that neighbouring samples are neighbours, so
  shifted, scaled and noised copies of a training sequence are new examples to it
  (MNIST-1D's generator makes its sequences by exactly these transformations). ``quick``:
  dropout 0.1 only (9 points).
* ``cnn``: dropout {0.1, 0.2} x label smoothing {0, 0.1} x augmentation {none, MNIST-1D's}
  x 60 epochs, grid lr {3e-3, 6e-3, 1e-2}, seeds 0-2 (contains the recipe: dropout 0.2,
  label smoothing 0.1, MNIST-1D's augmentation, lr 6e-3). ``quick``: the recipe's group
  and the one without augmentation, 30 epochs, seeds 0-1.
* ``gru``/``rnn``: hidden size {64, 96} x chunk {2, 4} x 60 epochs, grid weight decay
  {0.003, 0.01, 0.03}, seeds 0-2 (contains the recipe: 96 units, chunk 2, weight decay
  0.01). ``quick``: 96 units, chunks {2, 4}, 30 epochs, seeds 0-1. The full cnn and gru
  searches (72 and 36 runs of 60 epochs) have not been run on 2 CPU cores; their recipes
  came from an earlier search on a validation split, whose points these spaces contain.
* the dense regressions (``logistic_regression``, ``softmax_regression``,
  ``linear_regression``): grid lr {1e-3, 7e-3, 3e-2} over their recipe, seeds 0-2.
* ``tiny`` (every model): one small group, two epochs, two grid values, two seeds: checks
  that the command runs end to end in seconds; it chooses nothing worth keeping.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from funcnn import checks
from funcnn.data import Augment, Dataset, train_val_split
from funcnn.io import provenance, to_jsonable, write_json
from funcnn.train.config import GRID_NAMES, RunConfig
from funcnn.train.loop import NonFiniteLossError
from funcnn.train.registry import MNIST1D_AUGMENT, MODELS, RECIPES, Recipe, build_model
from funcnn.train.seeds import fit_seeds

#: The seeds the chosen recipe trains with on the whole training set, for its test figure.
FINAL_SEEDS = (0, 1, 2, 3)

#: Budgets, cheapest first.
BUDGETS = ("tiny", "quick", "full")

# RunConfig fields a space may not set: they are the search's own (or bookkeeping).
_NOT_SEARCHED = frozenset(
    {"seed", "seeds", "grid", "checkpoint_dir", "checkpoint_every", "resume", "progress"}
    | {"early_stopping_patience", "eval_train"}
)
_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig)) - _NOT_SEARCHED


class Space(NamedTuple):
    """One model's search space.

    Attributes:
        axes: static axes, ``name -> values``: the groups are their product, in order (the
            last axis varies fastest). A name is an option of the model
            (``MODELS[model].options``) or a :class:`RunConfig` field (``epochs``,
            ``augment``, ``label_smoothing``, ...).
        grid: ``(name, values)``, name in ``GRID_NAMES``: trained at once (vmapped) in every
            group.
        seeds: the seeds of every point.
        run: :class:`RunConfig` fields fixed for the whole search, over the model's recipe.
        model: model options fixed for the whole search, over the recipe's.
        val_fraction: the fraction of the training set held out for validation.
    """

    axes: Mapping[str, tuple]
    grid: tuple[str, tuple[float, ...]]
    seeds: tuple[int, ...] = (0, 1, 2)
    run: Mapping[str, Any] = {}
    model: Mapping[str, Any] = {}
    val_fraction: float = 0.1

    def groups(self) -> list[dict[str, Any]]:
        """Every combination of the static axes, as ``{name: value}``."""
        names = list(self.axes)
        return [dict(zip(names, values)) for values in itertools.product(*self.axes.values())]

    @property
    def n_points(self) -> int:
        return len(self.groups()) * len(self.grid[1])

    def to_dict(self) -> dict[str, Any]:
        out = self._asdict()
        out["axes"] = {k: [_plain(v) for v in vs] for k, vs in self.axes.items()}
        out["grid"] = {"name": self.grid[0], "values": list(self.grid[1])}
        out["run"] = {k: _plain(v) for k, v in self.run.items()}
        out["model"] = {k: _plain(v) for k, v in self.model.items()}
        return to_jsonable(out)


def _plain(value):
    return value.to_config() if isinstance(value, Augment) else value


# Augmentations of MNIST-1D's own generative process (funcnn.data.augment): a circular shift
# of up to 8 (the recipes' MNIST1D_AUGMENT) or 16 of 40 samples, 20% in scale, white noise
# of std 0.05.
SHIFT8 = MNIST1D_AUGMENT
SHIFT16 = Augment(shift=16, scale=0.2, noise=0.05)

_TINY_MODEL = {
    "mlp": {"hidden": (16,)},
    "cnn": {"channels": (4, 8), "strides": (1, 2), "kernel_size": 3},
    "gru": {"hidden_size": 8},
    "rnn": {"hidden_size": 8},
}


def _tiny(model: str, grid_name: str, values: tuple[float, float]) -> Space:
    return Space(
        {"epochs": (2,)},
        (grid_name, values),
        (0, 1),
        run={"batch_size": 32},
        model=_TINY_MODEL.get(model, {}),
    )


_DENSE = {
    "full": Space({}, ("lr", (1e-3, 7e-3, 3e-2))),
    "quick": Space({}, ("lr", (1e-3, 7e-3, 3e-2)), (0, 1)),
}
_RECURRENT = {
    "full": Space(
        {"hidden_size": (64, 96), "chunk": (2, 4), "epochs": (60,)},
        ("weight_decay", (0.003, 0.01, 0.03)),
    ),
    "quick": Space(
        {"hidden_size": (96,), "chunk": (2, 4), "epochs": (30,)},
        ("weight_decay", (0.003, 0.01, 0.03)),
        (0, 1),
    ),
}

#: ``SPACES[model][budget]``: the search space of each model and budget (module docstring).
SPACES: dict[str, dict[str, Space]] = {
    "mlp": {
        "full": Space(
            {
                "dropout": (0.0, 0.1, 0.3),
                "augment": (None, SHIFT8, SHIFT16),
                "epochs": (120,),
            },
            ("lr", (3e-3, 7e-3, 1.5e-2)),
            (0, 1),
        ),
        "quick": Space(
            {"dropout": (0.1,), "augment": (None, SHIFT8, SHIFT16), "epochs": (120,)},
            ("lr", (3e-3, 7e-3, 1.5e-2)),
            (0, 1),
        ),
        "tiny": _tiny("mlp", "lr", (3e-3, 1e-2)),
    },
    "logistic_regression": {**_DENSE, "tiny": _tiny("logistic_regression", "lr", (3e-3, 3e-2))},
    "softmax_regression": {**_DENSE, "tiny": _tiny("softmax_regression", "lr", (3e-3, 3e-2))},
    "linear_regression": {**_DENSE, "tiny": _tiny("linear_regression", "lr", (3e-3, 3e-2))},
    "cnn": {
        "full": Space(
            {
                "dropout": (0.1, 0.2),
                "label_smoothing": (0.0, 0.1),
                "augment": (None, SHIFT8),
                "epochs": (60,),
            },
            ("lr", (3e-3, 6e-3, 1e-2)),
        ),
        "quick": Space(
            {"augment": (None, SHIFT8), "epochs": (30,)}, ("lr", (3e-3, 6e-3, 1e-2)), (0, 1)
        ),
        "tiny": _tiny("cnn", "lr", (3e-3, 1e-2)),
    },
    "gru": {**_RECURRENT, "tiny": _tiny("gru", "weight_decay", (0.01, 0.03))},
    "rnn": {**_RECURRENT, "tiny": _tiny("rnn", "weight_decay", (0.01, 0.03))},
}


def check_space(model: str, space: Space) -> Space:
    """``space`` if it is a valid search space of ``model``, else a ``ValueError`` naming
    the bad setting."""
    if not isinstance(space, Space):
        raise TypeError(f"space must be a funcnn.train.tune.Space; got {type(space).__name__}.")
    options = set(MODELS[model].options)
    for where, names in (("axes", space.axes), ("run", space.run), ("model", space.model)):
        for name in names:
            valid = {"axes": options | _RUN_FIELDS, "run": _RUN_FIELDS, "model": options}[where]
            if name not in valid:
                raise ValueError(
                    f"space {where} {name!r} is neither an option of model {model!r} nor a "
                    f"searchable RunConfig field; valid: {', '.join(sorted(valid))}."
                )
    for name, values in space.axes.items():
        if not isinstance(values, tuple | list) or not values:
            raise ValueError(f"space axis {name!r} needs a non-empty tuple of values.")
    grid_name, values = space.grid
    checks.check_choice(grid_name, GRID_NAMES, "grid hyperparameter")
    if grid_name in space.axes or grid_name in space.run:
        raise ValueError(f"{grid_name!r} is the grid of the space; it cannot also be fixed.")
    if not values:
        raise ValueError(f"the grid over {grid_name!r} needs at least one value.")
    checks.check_fraction(space.val_fraction, "val_fraction")
    if space.val_fraction == 0:
        raise ValueError("val_fraction must be > 0: the search scores points on validation.")
    return space


def space_for(model: str, budget: str) -> Space:
    """The search space of ``model`` for ``budget`` (:data:`SPACES`)."""
    checks.check_choice(model, SPACES, "model")
    spaces = SPACES[model]
    checks.check_choice(budget, spaces, "budget")
    return spaces[budget]


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
                    "group": {k: _plain(v) for k, v in p.group.items()},
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
                    "model": {k: _plain(v) for k, v in self.recipe.model.items()},
                    "run": {k: _plain(v) for k, v in self.recipe.run.items()},
                },
                "recipe_source": recipe_source(self.model, self.recipe),
                "test": self.test,
                "search_time_s": self.search_time_s,
                "wall_time_s": self.wall_time_s,
            }
        )


def _std(a) -> float | None:
    return None if a is None else float(np.std(a))


def _split(dataset, val_fraction: float, load: Callable) -> tuple[Dataset, Dataset]:
    """``(search, full)``: the search's data (training rows less a validation split, and no
    test split at all) and the whole training set with its test split."""
    if isinstance(dataset, str):
        held = load(dataset, val_fraction=val_fraction)
        full = load(dataset)
    else:
        import jax

        full = dataset
        x_tr, y_tr, x_val, y_val = train_val_split(
            jax.random.key(0), np.asarray(full.x_train), np.asarray(full.y_train), val_fraction
        )
        held = Dataset(x_tr, y_tr, None, None, full.n_classes, full.name, x_val, y_val)
    search = Dataset(
        held.x_train, held.y_train, None, None, held.n_classes, held.name, held.x_val, held.y_val
    )
    return search, full


def _recipe(model: str, space: Space, group: Mapping[str, Any], grid_value: float) -> Recipe:
    """The recipe of a point: the model's recipe, then the space's fixed settings, then the
    group's static settings and the grid value."""
    base = RECIPES[model]
    options = set(MODELS[model].options)
    m = {**base.model, **space.model, **{k: v for k, v in group.items() if k in options}}
    run = {**base.run, **space.run, **{k: v for k, v in group.items() if k not in options}}
    run[space.grid[0]] = grid_value
    return Recipe(m, run)


def _describe(group: Mapping[str, Any]) -> str:
    parts = []
    for k, v in group.items():
        if isinstance(v, Augment):
            v = ",".join(f"{f}={x}" for f, x in v.to_config().items() if x) or "none"
        elif isinstance(v, tuple | list):
            v = ",".join(str(x) for x in v)
        parts.append(f"{k}={'none' if v is None else v}")
    return " ".join(parts) or "(recipe)"


def _log(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def _search_group(model, space, group, data, progress) -> list[Point]:
    """Train one group (its grid values x seeds, vmapped) and score every point; a value
    that diverges is marked and the others train again without it."""
    grid_name, values = space.grid
    values = list(values)
    diverged: dict[float, str] = {}
    recipe = _recipe(model, space, group, values[0])
    net = build_model(model, data, recipe.model)
    run = {k: v for k, v in recipe.run.items() if k != grid_name}
    while values:
        try:
            result = fit_seeds(
                net,
                data,
                seeds=space.seeds,
                grid=(grid_name, tuple(values)),
                eval_train=False,
                progress=progress,
                **run,
            )
            break
        except NonFiniteLossError as e:
            bad = values[(e.run or 0) // len(space.seeds)]
            diverged[bad] = str(e).split(";")[0]
            values.remove(bad)
    else:
        result = None
    points = []
    n = len(space.seeds)
    for v in space.grid[1]:
        if v in diverged or result is None:
            points.append(Point(group, v, None, None, None, diverged.get(v, "diverged")))
            continue
        i = values.index(v)
        rows = slice(i * n, (i + 1) * n)

        def per_seed(name, rows=rows):
            return np.asarray(result.final[name])[rows] if name in result.final else None

        points.append(
            Point(
                group, v, per_seed("val_accuracy"), per_seed("val_loss"), per_seed("train_accuracy")
            )
        )
    return points


def _score_text(p: Point) -> str:
    if p.val_accuracy is None:
        return f"loss {-p.score[0]:.4g}"
    return f"{p.score[0]:.4f}"


def search(
    model: str, data: Dataset, space: Space, *, progress: bool = True
) -> tuple[list[Point], int]:
    """Every point of ``space`` on ``data`` (which must hold a validation split, and needs
    no test split), and the index of the best one (:attr:`Point.score`)."""
    if data.x_val is None or len(data.x_val) == 0:
        raise ValueError("search needs a dataset with a validation split (x_val, y_val).")
    points: list[Point] = []
    groups = space.groups()
    for k, group in enumerate(groups, 1):
        t0 = time.perf_counter()
        new = _search_group(model, space, group, data, progress)
        points += new
        scores = ", ".join(
            f"{p.value:g}: {'diverged' if p.val_loss is None else _score_text(p)}" for p in new
        )
        took = time.perf_counter() - t0
        _log(progress, f"[{k}/{len(groups)}] {_describe(group)}  val {scores}  ({took:.0f} s)")
    best = max(range(len(points)), key=lambda i: (points[i].score, -i))
    if points[best].val_loss is None:
        raise ValueError("every point of the search diverged; try smaller learning rates.")
    return points, best


def final_test(
    model: str, full: Dataset, recipe: Recipe, seeds: Sequence[int], *, progress: bool = True
) -> dict[str, Any]:
    """The chosen recipe trained on the whole training set for ``seeds`` (vmapped), and its
    test accuracy per seed with mean, std, min and max."""
    t0 = time.perf_counter()
    net = build_model(model, full, recipe.model)
    result = fit_seeds(net, full, seeds=seeds, eval_train=False, progress=progress, **recipe.run)
    metric = "test_accuracy" if "test_accuracy" in result.final else "test_loss"
    values = np.asarray(result.final[metric], dtype=float)
    return {
        "seeds": list(seeds),
        "metric": metric,
        metric: values.tolist(),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "fit_time_s": result.wall_time_s,
        "wall_time_s": time.perf_counter() - t0,
    }


def tune(
    model: str = "mlp",
    dataset: str | Dataset = "mnist1d",
    *,
    budget: str = "full",
    space: Space | None = None,
    final_seeds: Sequence[int] | None = FINAL_SEEDS,
    cache_dir=None,
    progress: bool = True,
) -> TuneResult:
    """Search ``model``'s space on a validation split, then test the choice once.

    Args:
        model: a name of :data:`funcnn.train.MODELS`.
        dataset: a name for :func:`funcnn.data.load` (the validation split is
            ``load(name, val_fraction=...)``: standardized with the remaining training rows'
            statistics), or a :class:`~funcnn.data.Dataset` used as is (its validation rows
            are drawn from its training rows by ``jax.random.key(0)``).
        budget: "full", "quick" or "tiny" (:data:`SPACES`); ignored when ``space`` is given.
        space: a :class:`Space` to search instead of the table's.
        final_seeds: seeds of the chosen recipe on the whole training set, whose test
            accuracy is reported; None or empty: skip (the test split is then never used).
        cache_dir: where MNIST-1D is cached.
        progress: progress bars and one line per group on stderr.

    Returns:
        :class:`TuneResult`.
    """
    t0 = time.perf_counter()
    checks.check_choice(model, MODELS, "model")
    if space is None:
        space = space_for(model, budget)
    else:
        budget = "custom"
    check_space(model, space)
    if final_seeds:
        from funcnn.train.config import check_seeds

        final_seeds = check_seeds(final_seeds)

    from funcnn.data import load

    def load_named(name, val_fraction=0.0):
        return load(name, cache_dir=cache_dir, val_fraction=val_fraction)

    data, full = _split(dataset, space.val_fraction, load_named)
    grid_name = space.grid[0]
    _log(
        progress,
        f"funcnn tune: {model} on {data.name}, {len(space.groups())} groups x "
        f"{len(space.grid[1])} {grid_name} x {len(space.seeds)} seeds on "
        f"{len(data.x_train)} training / {len(data.x_val)} validation rows",
    )
    points, best = search(model, data, space, progress=progress)
    search_time = time.perf_counter() - t0
    recipe = _recipe(model, space, points[best].group, points[best].value)
    test = None
    if final_seeds:
        _log(
            progress, f"chosen: {_describe(points[best].group)} {grid_name}={points[best].value:g}"
        )
        test = final_test(model, full, recipe, final_seeds, progress=progress)
    return TuneResult(
        model,
        data.name,
        budget,
        space,
        grid_name,
        points,
        best,
        recipe,
        test,
        search_time,
        time.perf_counter() - t0,
    )


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
        cells += [_describe({a: p.group[a]}).split("=", 1)[1] for a in axes]
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


__all__ = [
    "BUDGETS",
    "FINAL_SEEDS",
    "Point",
    "SPACES",
    "Space",
    "TuneResult",
    "check_space",
    "final_test",
    "format_table",
    "recipe_source",
    "search",
    "space_for",
    "tune",
    "write_result",
]
