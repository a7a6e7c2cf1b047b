"""``funcnn gradcheck``: every hand-written gradient of funcnn against jax.grad and finite
differences.

Usage::

    funcnn gradcheck                      # every model x activation x loss, float64
    funcnn gradcheck --model mlp --dtype float32
    funcnn gradcheck --json > rows.json

One row per (model, activation, loss, leaf); the command exits 1 if any row fails. The cases
are the table :data:`funcnn.gradcheck.CASES`; this module only parses flags and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from funcnn.gradcheck import (
    CASES,
    COLUMNS,
    DEFAULT_FLOOR_FRAC,
    TOLERANCES,
    format_table,
    groups,
    run_cases,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="all",
        help="which model to check: 'all' (default) or one of " + ", ".join(groups()),
    )
    parser.add_argument(
        "--dtype",
        default="float64",
        choices=["float32", "float64"],
        help="dtype of params, data and gradients under test (finite differences are always "
        "float64); tolerances: float64 1e-10 vs autodiff and 1e-6 vs finite differences, "
        "float32 1e-4 and 1e-4",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of params and data (default 0)")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")


def run(args: argparse.Namespace) -> int:
    valid = groups(CASES)
    if args.model != "all" and args.model not in valid:
        print(
            f"funcnn gradcheck: unknown --model {args.model!r}; valid: all, {', '.join(valid)}",
            file=sys.stderr,
        )
        return 2
    selected = [c for c in CASES if args.model in ("all", c.group)]
    t0 = time.perf_counter()
    records = []
    for report in run_cases(selected, args.dtype, args.seed, progress=True):
        records += report.to_dicts()
    elapsed = time.perf_counter() - t0
    n_fail = sum(not r["pass"] for r in records)
    if args.json:
        print(json.dumps(records, indent=1, allow_nan=False))
    else:
        rtol, fd_rtol = TOLERANCES[args.dtype]
        print(
            f"funcnn gradcheck: {len(selected)} combinations, {args.dtype}, seed {args.seed}. "
            f"rel err = |a - b| / max(|a|, |b|, {DEFAULT_FLOOR_FRAC:g} x max of the leaf); "
            f"pass: <= {rtol:g} vs jax.grad, <= {fd_rtol:g} vs float64 central differences."
        )
        print(format_table(records, COLUMNS))
        verdict = "all passed" if n_fail == 0 else f"{n_fail} FAILED"
        print(f"{len(records)} rows, {verdict} ({elapsed:.1f} s)")
    return 1 if n_fail else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="funcnn gradcheck", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
