"""Every study runs in --quick mode, its claim holds, and the report lists every study.

The whole quick report runs once per test session (each study runs once), and each study is
then checked separately, so a failing claim names its study.
"""

import importlib
import json

import pytest

from experiments import STUDIES
from experiments.__main__ import main as report_main
from experiments.__main__ import parse_args, run_over_seeds, verdict

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


def fake_study(held_by_seed, own_draws=None):
    """A study's ``main`` whose claim holds for the seeds in ``held_by_seed``; records calls."""
    calls = []

    def main(argv):
        seed = int(argv[argv.index("--seed") + 1])
        calls.append((seed, argv[argv.index("--out") + 1], "--quick" in argv))
        record = {"study": "fake", "claim": "c", "held": held_by_seed(seed), "headline": "h"}
        if own_draws is not None:
            record.update(held_draws=own_draws, held_fraction=sum(own_draws) / len(own_draws))
        return record

    return main, calls


def test_each_claim_is_evaluated_over_the_seeds_and_holds_only_if_it_holds_for_all(tmp_path):
    args = parse_args(["--seed", "4", "--seeds", "3", "--out", str(tmp_path)])
    study, calls = fake_study(lambda seed: seed != 5)
    record = run_over_seeds(study, "fake", args)
    assert [c[0] for c in calls] == [4, 5, 6]
    assert calls[0][1] == str(tmp_path / "fake")
    assert calls[1][1] == str(tmp_path / "fake" / "seed_5")
    assert record["held_draws"] == [True, False, True] and record["held"] is False
    assert record["held_fraction"] == pytest.approx(2 / 3)
    assert verdict(record) == "**no** (2/3 seeds)"
    study, calls = fake_study(lambda seed: True)
    record = run_over_seeds(study, "fake", args)
    assert record["held"] is True and verdict(record) == "yes (3/3 seeds)"


def test_a_study_with_its_own_draws_runs_once_and_keeps_its_verdict(tmp_path):
    args = parse_args(["--seeds", "3", "--out", str(tmp_path)])
    study, calls = fake_study(lambda seed: True, own_draws=[True, False, True, True])
    record = run_over_seeds(study, "fake", args)
    assert len(calls) == 1 and record["held"] is True
    assert verdict(record) == "yes (3/4 draws)"
    study, calls = fake_study(lambda seed: True, own_draws=[True, True])  # fewer than 3
    record = run_over_seeds(study, "fake", args)
    assert len(calls) == 3 and record["held_over"] == "seeds"


def test_full_mode_defaults_to_three_seeds_quick_to_one(tmp_path):
    assert parse_args([]).seeds == 3
    assert parse_args(["--quick"]).seeds == 1
    study, calls = fake_study(lambda seed: False)
    record = run_over_seeds(study, "fake", parse_args(["--quick", "--out", str(tmp_path)]))
    assert len(calls) == 1 and calls[0][2] and "held_draws" not in record
    assert verdict(record) == "**no**"
    with pytest.raises(SystemExit):
        parse_args(["--seeds", "0"])


def test_relu_interpolant_interpolates_and_its_error_falls_like_width_squared():
    import jax
    import numpy as np

    from experiments.universal_approximation import interpolant, relu_features, slope, target

    knots = np.linspace(-1.0, 1.0, 9)
    with jax.enable_x64(True):
        s, t, c = interpolant(8)
        np.testing.assert_allclose(relu_features(knots, s, t) @ c, target(knots), atol=1e-12)
    widths = [8, 16, 32, 64]
    assert slope(widths, [3.0 / w**2 for w in widths], 8) == pytest.approx(-2.0)
    assert slope([4] + widths, [1.0] + [1.0 / w for w in widths], 8) == pytest.approx(-1.0)


def test_polynomial_learning_curve_shapes_and_the_overfit_it_shows():
    import jax
    import numpy as np

    from experiments.polynomial_fit import build_parser, learning_curve

    args = build_parser().parse_args(["--curve-n", "20", "1000", "--curve-draws", "2"])
    ns, errors = learning_curve(jax.random.key(0), args, [1, 3, 20])
    assert ns == [20, 1000] and errors.shape == (2, 2, 3)
    assert np.all(errors[:, 0, 2] > 100 * errors[:, 0, 1])  # degree 20 on 20 points
    assert np.all(errors[:, 1, 1] < 1.5 * 0.1**2 / 2)  # degree 3 on 1,000: the noise floor


def test_mnist1d_table_per_seed_verdicts_apply_the_claims_thresholds_to_each_seed():
    from experiments.mnist1d_table import per_seed_verdicts

    def row(*acc):
        return {"test_accuracy": list(acc)}

    numbers = {
        "logistic_regression": row(0.31, 0.30, 0.32),
        "mlp": row(0.66, 0.65, 0.67),
        "mlp_shuffled": row(0.655, 0.66, 0.665),
        "cnn": row(0.90, 0.89, 0.91),
        "cnn_shuffled": row(0.56, 0.58, 0.57),
    }
    assert per_seed_verdicts(numbers, quick=True) == [True, True, True]
    numbers["cnn_shuffled"] = row(0.56, 0.75, 0.57)  # seed 1's CNN ignores the order
    numbers["logistic_regression"] = row(0.31, 0.30, 0.25)  # seed 2 misses 32% by 7 points
    assert per_seed_verdicts(numbers, quick=True) == [True, False, False]
    numbers.update(gru=row(0.90, 0.90, 0.90), gru_shuffled=row(0.55, 0.55, 0.55))
    assert per_seed_verdicts(numbers, quick=False) == [False, False, False]  # CNN < 91%
