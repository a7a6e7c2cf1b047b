"""benchmarks.bench_roofline on tiny sizes."""

import pytest

from benchmarks import bench_roofline
from tests.benchmarks.tiny import assert_valid


def test_roofline_records():
    records = bench_roofline.run(True, config=bench_roofline.SMOKE, progress=False)
    assert_valid(records, "roofline")
    assert [r["workload"]["sizes"][0] for r in records] == list(bench_roofline.SMOKE["sizes"])
    (best,) = [r for r in records if r["is_roofline"]]
    assert best["achieved_flops_per_s"] == max(r["achieved_flops_per_s"] for r in records)
    for r in records:
        n = r["workload"]["sizes"][0]
        assert r["flops"] == 2 * n**3
        assert r["fraction_of_roofline"] == pytest.approx(
            r["achieved_flops_per_s"] / best["achieved_flops_per_s"]
        )
    assert bench_roofline.roofline_from(records, "float32") == best["achieved_flops_per_s"]
    assert bench_roofline.roofline_from(records, "bfloat16") is None
    best_call = max(r["flops"] / r["min_s"] for r in records)
    assert bench_roofline.roofline_best_from(records, "float32") == best_call
