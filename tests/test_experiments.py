"""Every study runs in --quick mode, its claim holds, and the report lists every study.

The whole quick report runs once per test session (each study runs once), and each study is
then checked separately, so a failing claim names its study.
"""

import importlib
import json

import pytest

from experiments import STUDIES
from experiments.__main__ import main as report_main

REQUIRED = {
    "study",
    "claim",
    "held",
    "headline",
    "numbers",
    "plots",
    "config",
    "versions",
    "device",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = report_main(["--quick", "--out", str(out), "--no-progress"])
    records = json.loads((out / "report.json").read_text())["records"]
    return out, status, {r["study"]: r for r in records}


@pytest.mark.parametrize("name", STUDIES)
def test_study_runs_quick_and_its_claim_holds(report, name):
    out, _, records = report
    record = records[name]
    assert not record.get("crashed"), record["headline"]
    metrics = json.loads((out / name / "metrics.json").read_text())
    assert REQUIRED <= set(metrics), sorted(REQUIRED - set(metrics))
    assert metrics["config"]["quick"] is True
    assert metrics["versions"]["jax"] and metrics["device"]["platform"]
    assert metrics["plots"], "every study draws at least one plot"
    for png in metrics["plots"]:
        assert (out / name / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert metrics["held"] is True, f"{name}: claim did not hold: {metrics['headline']}"


def test_report_lists_every_study_with_its_plots(report):
    out, status, records = report
    assert status == 0
    text = (out / "REPORT.md").read_text()
    for name in STUDIES:
        assert f"| [{name}](#" in text
        for png in records[name]["plots"]:
            assert f"]({name}/{png})" in text
    assert f"{len(STUDIES)} of {len(STUDIES)} claims held" in text


@pytest.mark.parametrize("name", STUDIES)
def test_study_has_a_claim_and_standard_flags(name):
    module = importlib.import_module(f"experiments.{name}")
    assert module.CLAIM and module.__doc__ and "Usage" in module.__doc__
    args = module.build_parser().parse_args(["--quick", "--seed", "3"])
    assert args.quick and args.seed == 3 and str(args.out).endswith(name)


def test_unknown_study_is_rejected(capsys):
    with pytest.raises(SystemExit):
        report_main(["no_such_study"])
    assert "unknown study no_such_study" in capsys.readouterr().err
