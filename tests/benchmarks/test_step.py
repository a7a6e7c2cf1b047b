"""benchmarks.bench_step on tiny sizes."""

import pytest

from benchmarks import bench_step
from benchmarks.workloads import mlp_step_flops
from tests.benchmarks.tiny import ROOFLINE, assert_valid


def test_step_records():
    records = bench_step.run(True, config=bench_step.SMOKE, roofline=ROOFLINE, progress=False)
    assert_valid(records, "step")
    (r,) = records
    sizes, batch = bench_step.SMOKE["workloads"][0]
    assert r["workload"]["sizes"] == list(sizes) and r["workload"]["batch"] == batch
    assert r["flops"] == mlp_step_flops(sizes, batch)
    assert r["fraction_of_roofline"] == pytest.approx(r["flops"] / r["median_s"] / ROOFLINE)
    assert r["compile_s"] > 0
    assert r["paired_matmul_n"] == bench_step.SMOKE["pair_n"] and r["fraction_of_paired_matmul"] > 0
