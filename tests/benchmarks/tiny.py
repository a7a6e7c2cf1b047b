"""Sizes and checks the benchmark tests share (the numbers of tiny runs mean nothing)."""

import importlib.metadata
import json
import os

import pytest

from benchmarks.records import validate_record
from benchmarks.timing import MIN_REPEATS

SIZES, BATCH, LR = (8, 16, 16, 4), 8, 1e-3
ROOFLINE = 1e9  # a stand-in FLOP/s so step/scaling do not measure their own on tiny sizes
COMMITTED = os.path.join(
    os.path.dirname(__file__), "..", "..", "benchmarks", "results", "2026-11-23-cpu-quick"
)
"""A committed run: the code must go on reading its results.json and redrawing its report."""

TIGHT = {"rtol": 1e-6, "atol": 1e-6}
"""The agreement of two implementations of the same float32 step on the tiny workload: a few
ulps (float32's is 1.2e-7 relative) where they sum in another order, and 1/1000 of a
learning rate where Adam divides a rounding-level gradient by its own size (the first Adam
step moves every parameter by about lr whatever the gradient). The benchmarks' own check
(benchmarks.same_work.SAME_WORK_TOL, with outliers) is looser: it is for large nets."""


def assert_valid(records, bench):
    """Every record has the schema, belongs to ``bench`` and is JSON."""
    assert records, f"{bench} returned no records"
    for r in records:
        assert validate_record(r) == [], r
        assert r["bench"] == bench
        assert r["repeats"] >= MIN_REPEATS
        json.dumps(r, allow_nan=False)


def installed(package: str) -> bool:
    """Whether the distribution ``package`` is installed."""
    try:
        importlib.metadata.version(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def contender_params(packages_of: dict, *, leave_out=(), slow=()) -> list:
    """Each contender of a registry (name -> its packages) as a test parameter, skipped where
    a package is missing, marked slow where named in ``slow``."""
    params = []
    for name, packages in packages_of.items():
        if name in leave_out:
            continue
        missing = [p for p in packages if not installed(p)]
        marks = [pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed")]
        if name in slow:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def results_of(records, **fields) -> dict:
    """A run's ``results.json`` content around ``records`` (a smoke suite in float32), with
    ``fields`` over the defaults."""
    return {
        "suite": "smoke",
        "dtype": "float32",
        "started": "today",
        "command": "python -m benchmarks",
        "wall_s": 1.0,
        "device": records[0]["device"],
        "versions": records[0]["versions"],
        "records": records,
        **fields,
    }
