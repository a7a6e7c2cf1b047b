"""benchmarks.bench_cnn_scaling on tiny sizes, and the CNN's FLOP count."""

import pytest

from benchmarks import bench_cnn_scaling as bench
from benchmarks import plots, report
from benchmarks.nets import CNNSpec, cnn_layer_macs, cnn_step_flops
from tests.benchmarks.tiny import ROOFLINE, assert_valid

CONFIG = dict(bench.SMOKE, multipliers=(0.5, 1), batches=(4,))


def test_the_flop_count_of_the_recipes_cnn():
    spec = CNNSpec(dropout=0.0)  # lengths 40, 20, 20, 10 after the four convolutions
    assert cnn_layer_macs(spec) == [40 * 5 * 1 * 64, 20 * 5 * 64 * 64, 20 * 5 * 64 * 128,
                                    10 * 5 * 128 * 128, 128 * 10]  # fmt: skip
    macs = sum(cnn_layer_macs(spec))
    assert cnn_step_flops(spec, 128) == 2 * 128 * (3 * macs - 40 * 5 * 64)
    assert spec.scaled(0.25).channels == (16, 16, 32, 32)
    assert spec.scaled(2).channels == (128, 128, 256, 256)


@pytest.fixture(scope="module")
def records():
    return bench.run(True, config=CONFIG, roofline=ROOFLINE, progress=False)


def test_cnn_scaling_records(records):
    assert_valid(records, "cnn_scaling")
    assert [r["name"] for r in records] == [
        f"{g}/x{m:g}/b4" for m in CONFIG["multipliers"] for g in ("autodiff", "manual")
    ]
    for r in records:
        m, w = r["channel_multiplier"], r["workload"]
        spec = CONFIG["spec"].scaled(m)
        assert w["channels"] == list(spec.channels) and w["optimizer"] == "adamw"
        assert r["flops"] == cnn_step_flops(spec, w["batch"])
        assert r["fraction_of_roofline"] == pytest.approx(r["achieved_flops_per_s"] / ROOFLINE)
        assert r["paired_matmul_n"] == CONFIG["pair_n"] and r["fraction_of_paired_matmul"] > 0
        assert r["baseline"] == f"autodiff/x{m:g}/b4"
        assert r["same_work"]["outliers"] == 0
        if r["grad"] == "autodiff":
            assert r["ratio"] == 1.0


def test_the_report_has_a_row_per_point_and_a_plot(records, tmp_path):
    path = plots.plot_cnn_scaling(records, str(tmp_path / "cnn_scaling.png"))
    assert open(path, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
    md = "\n".join(report.cnn_scaling_section(records, {"cnn_scaling": path}))
    assert md.startswith("## cnn_scaling: the CNN step against channels and batch (float32)")
    assert "| x0.5 | 2-4 | 4 |" in md and "| x1 | 4-8 | 4 |" in md
    assert "![cnn_scaling](cnn_scaling.png)" in md
