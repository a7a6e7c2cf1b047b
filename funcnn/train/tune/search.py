"""The search of :mod:`funcnn.train.tune`: each static group as one vmapped ``fit_seeds``
program on a validation split, the choice, and its test accuracy measured once."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from funcnn import checks
from funcnn.data import Dataset, train_val_split
from funcnn.train.loop import NonFiniteLossError
from funcnn.train.registry import MODELS, RECIPES, Recipe, build_model
from funcnn.train.seeds import fit_seeds
from funcnn.train.tune.result import Point, TuneResult, describe
from funcnn.train.tune.spaces import FINAL_SEEDS, Space, check_space, space_for


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


def point_recipe(model: str, space: Space, group: Mapping[str, Any], grid_value: float) -> Recipe:
    """The recipe of a point: the model's recipe, then the space's fixed settings, then the
    group's static settings and the grid value."""
    base = RECIPES[model]
    options = set(MODELS[model].options)
    m = {**base.model, **space.model, **{k: v for k, v in group.items() if k in options}}
    run = {**base.run, **space.run, **{k: v for k, v in group.items() if k not in options}}
    run[space.grid[0]] = grid_value
    return Recipe(m, run)


def _log(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def _search_group(model, space, group, data, progress) -> list[Point]:
    """Train one group (its grid values x seeds, vmapped) and score every point; a value
    that diverges is marked and the others train again without it."""
    grid_name, values = space.grid
    values = list(values)
    diverged: dict[float, str] = {}
    recipe = point_recipe(model, space, group, values[0])
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
        _log(progress, f"[{k}/{len(groups)}] {describe(group)}  val {scores}  ({took:.0f} s)")
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
    recipe = point_recipe(model, space, points[best].group, points[best].value)
    test = None
    if final_seeds:
        _log(progress, f"chosen: {describe(points[best].group)} {grid_name}={points[best].value:g}")
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
