"""``funcnn tune``: choose a model's recipe on a validation split, then test the choice once.

Usage::

    funcnn tune                                   # the MLP's full search on MNIST-1D
    funcnn tune --model cnn --budget quick        # a reduced search
    funcnn tune --model gru --budget tiny --out runs/tune-gru   # end to end in seconds
    funcnn tune --final-seeds 0                   # search only: the test split is not used

The search space of each model and budget is the table :data:`funcnn.train.tune.SPACES`
(documented in :mod:`funcnn.train.tune`). Every point trains on the training set less a
validation split and is scored on that split; the best mean validation accuracy wins; then
the chosen recipe trains on the whole training set for seeds 0-3 and its test accuracy is
printed once, with the per-seed spread. Writes ``<out>/tune.json`` (every point's validation
accuracy per seed, the choice, the recipe, the test figure, versions and device); prints the
table and the chosen recipe as an entry of ``funcnn.train.RECIPES``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from funcnn.train.tune import BUDGETS, FINAL_SEEDS, SPACES


class UsageError(ValueError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the flags of ``funcnn tune``."""
    parser.add_argument(
        "--model", default="mlp", help=f"one of {', '.join(SPACES)} (default: %(default)s)"
    )
    parser.add_argument(
        "--budget",
        default="full",
        help=f"{', '.join(BUDGETS)}: the size of the search space; tiny only checks that the "
        "command runs (default: %(default)s)",
    )
    parser.add_argument(
        "--dataset", default="mnist1d", help="a name of funcnn.data.DATASETS (default: %(default)s)"
    )
    parser.add_argument(
        "--final-seeds",
        type=int,
        default=len(FINAL_SEEDS),
        help="train the choice on the whole training set for seeds 0..N-1 and report its test "
        "accuracy; 0: search only (default: %(default)s)",
    )
    parser.add_argument("--out", help="output folder (default: runs/tune-<model>-<time>)")
    parser.add_argument("--cache-dir", help="where MNIST-1D is cached")
    parser.add_argument("--no-progress", action="store_true", help="hide progress")


def _check(args) -> None:
    if args.model not in SPACES:
        raise UsageError(f"--model must be one of {', '.join(SPACES)}; got {args.model!r}.")
    if args.budget not in BUDGETS:
        raise UsageError(f"--budget must be one of {', '.join(BUDGETS)}; got {args.budget!r}.")
    if args.final_seeds < 0:
        raise UsageError(f"--final-seeds must be a non-negative integer; got {args.final_seeds}.")


def run(args) -> int:
    """Run ``funcnn tune`` with parsed ``args``; returns the exit status."""
    import numpy as np

    from funcnn.train.tune import format_table, recipe_source, tune, write_result

    t0 = time.perf_counter()
    try:
        _check(args)
        out = args.out or os.path.join(
            "runs", f"tune-{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        result = tune(
            args.model,
            args.dataset,
            budget=args.budget,
            final_seeds=tuple(range(args.final_seeds)) or None,
            cache_dir=args.cache_dir,
            progress=not args.no_progress,
        )
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"funcnn tune: error: {e}", file=sys.stderr)
        return 2
    path = write_result(result, os.path.join(out, "tune.json"))
    n_val = result.space.val_fraction
    print(
        f"{result.model} on {result.dataset}, budget {result.budget}: {len(result.points)} "
        f"points x {len(result.space.seeds)} seeds, validation = {n_val:g} of the training set "
        f"({result.search_time_s:.0f} s)"
    )
    print(format_table(result))
    best = result.points[result.best]
    name, values = ("accuracy", best.val_accuracy)
    if values is None:
        name, values = ("loss", best.val_loss)
    print(
        f"chosen (row *): validation {name} {np.mean(values):.4f} "
        f"(seeds {', '.join(f'{v:.4f}' for v in values)})"
    )
    print("as an entry of funcnn.train.RECIPES:")
    print(recipe_source(result.model, result.recipe))
    if result.test is not None:
        t = result.test
        metric = t["metric"]
        per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in zip(t["seeds"], t[metric]))
        print(
            f"{metric} of the choice on the whole training set (once): mean {t['mean']:.4f} "
            f"+- {t['std']:.4f} [{t['min']:.4f}, {t['max']:.4f}]; per seed {per_seed}"
        )
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0
