"""Sizes and checks the benchmark tests share (the numbers of tiny runs mean nothing)."""

import json

from benchmarks.records import validate_record
from benchmarks.timing import MIN_REPEATS

SIZES, BATCH, LR = (8, 16, 16, 4), 8, 1e-3
ROOFLINE = 1e9  # a stand-in FLOP/s so step/scaling do not measure their own on tiny sizes


def assert_valid(records, bench):
    """Every record has the schema, belongs to ``bench`` and is JSON."""
    assert records, f"{bench} returned no records"
    for r in records:
        assert validate_record(r) == [], r
        assert r["bench"] == bench
        assert r["repeats"] >= MIN_REPEATS
        json.dumps(r, allow_nan=False)
