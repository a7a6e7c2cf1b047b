"""python -m benchmarks: a suite run writes results.json and a report."""

import json

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import peers, report
from benchmarks.records import validate_record


def test_main_runs_a_suite_and_writes_a_report(tmp_path):
    out = tmp_path / "run"
    code = bench_main.main(
        ["--suite", "smoke", "--out", str(out), "--only", "roofline", "step", "--no-progress"]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["suite"] == "smoke" and results["invalid_records"] == []
    assert results["command"].endswith("--only roofline step --no-progress")
    assert list(results["benches"]) == ["roofline", "step"]
    assert all(b["status"] == "ok" and b["records"] > 0 for b in results["benches"].values())
    assert set(peers.PACKAGES) < set(results["versions"])  # every library a peer may use
    assert {r["bench"] for r in results["records"]} == {"roofline", "step"}
    (step,) = [r for r in results["records"] if r["bench"] == "step"]
    roofline = max(r["achieved_flops_per_s"] for r in results["records"] if r.get("is_roofline"))
    assert step["roofline_flops_per_s"] == roofline  # the suite passes its roofline on
    for r in results["records"]:
        assert validate_record(r) == []
    md = (out / "RESULTS.md").read_text()
    assert "## roofline" in md and "## step" in md and "| n | dtype |" in md
    assert (out / "step.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == ["RESULTS.md", "results.json", "step.png"]


def test_a_failing_benchmark_is_reported_and_the_others_kept(tmp_path, monkeypatch):
    from benchmarks import bench_step

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(bench_step, "run", broken)
    out = tmp_path / "run"
    code = bench_main.main(["--suite", "smoke", "--out", str(out), "--only", "roofline", "step"])
    assert code == 1
    results = json.loads((out / "results.json").read_text())
    assert results["benches"]["step"]["status"] == "error"
    assert "broken on purpose" in results["benches"]["step"]["reason"]
    assert {r["bench"] for r in results["records"]} == {"roofline"}
    assert report.main([str(out)]) == 0


def test_main_rejects_unknown_benchmarks():
    with pytest.raises(SystemExit):
        bench_main.parse_args(["--only", "nonsense"])
