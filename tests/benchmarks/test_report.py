"""benchmarks.report: the committed run's report is redrawn from its results.json alone."""

import copy
import json
import os
import shutil

import pytest

from benchmarks import report, targets
from tests.benchmarks.tiny import COMMITTED


@pytest.fixture(scope="module")
def committed():
    with open(os.path.join(COMMITTED, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(COMMITTED, "RESULTS.md")) as f:
        return results, f.read()


def test_the_committed_report_is_rendered_again_to_the_byte(committed):
    results, md = committed
    plots = {name: f"{name}.png" for name in ("step", "peers", "scaling")}
    assert report.render(results, plots) == md


def test_write_report_draws_every_plot(committed, tmp_path):
    shutil.copy(os.path.join(COMMITTED, "results.json"), tmp_path)
    written = report.write_report(str(tmp_path))
    assert sorted(written) == ["markdown", "peers", "scaling", "step"]
    for name in ("step", "peers", "scaling"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "RESULTS.md").read_text() == committed[1]


def test_each_section_appears_only_with_its_records(committed):
    results = dict(
        committed[0], records=[r for r in committed[0]["records"] if r["bench"] == "loop"]
    )
    md = report.render(results, {})
    assert "## loop" in md and "## Targets" not in md
    for heading in ("## roofline", "## step", "## peers", "## scaling", "## manual_vs_autodiff"):
        assert heading not in md
    assert "![" not in md


def test_the_fastest_jax_peer_is_found_by_runtime(committed):
    records = copy.deepcopy(committed[0]["records"])
    for r in records:
        if r["bench"] == "peers" and r["workload"]["model"] == "mlp":
            r["runtime"] = {"funcnn": "funcnn", "funcnn_jit": "funcnn", "torch_eager": "torch"}.get(
                r["name"], "jax"
            )
            if r["name"] == "flax_linen":
                r["name"] = "newlib"  # a library the report has never heard of
    rows = [t for t in targets.targets(records) if "fastest JAX peer <=" in t[0]]
    assert [measured for _, measured, _ in rows] == [
        "0.99 (fastest: newlib)",
        "1.01 (fastest: newlib)",
    ]


def test_a_target_is_missed_when_the_measure_falls_short(committed):
    records = copy.deepcopy(committed[0]["records"])
    for r in records:
        if r["bench"] == "step":
            r["fraction_of_roofline"] = 0.5
    (large,) = [t for t in targets.targets(records) if t[0].startswith("large step")]
    assert large[1].startswith("50% (medians") and large[2] == "missed"
