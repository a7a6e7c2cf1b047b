"""``funcnn train`` end to end on tiny configurations (in-process through funcnn.cli.main,
plus one real subprocess)."""

import json
import os
import subprocess
import sys

import pytest

from funcnn.cli import main

TINY = [
    "--dataset",
    "iris",
    "--hidden",
    "8",
    "--epochs",
    "3",
    "--batch-size",
    "16",
    "--no-progress",
    "--lr",
    "0.01",
]


def _files(out):
    return sorted(os.listdir(out))


def test_train_writes_all_its_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out), "--json", "--checkpoint-every", "2"]) == 0
    captured = capsys.readouterr()
    final = json.loads(captured.out)  # --json: only the final metrics on stdout
    assert 0.0 <= final["test_accuracy"] <= 1.0 and final["epoch"] == 3
    assert "mlp on iris" in captured.err  # the human summary goes to stderr with --json

    assert _files(out) == ["checkpoints", "learning_curves.png", "metrics.json"]
    assert sorted(os.listdir(out / "checkpoints")) == ["2", "3"]
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "ok"
    assert set(m["versions"]) >= {"jax", "jaxlib", "optax"}
    assert m["device"]["platform"] == "cpu" and m["device"]["device_kind"]
    assert m["config"]["args"]["hidden"] == "8" and m["config"]["fit"]["epochs"] == 3
    assert m["config"]["fit"]["model"]["sizes"] == [4, 8, 3]
    assert len(m["history"]["test_accuracy"]) == 3 and len(m["history"]["loss"]) == 3
    assert m["final"] == final
    assert m["wall_time_s"] > 0 and m["fit_time_s"] > 0
    # No stray temporary files from the atomic writes.
    assert not [f for f in os.listdir(out) if f.startswith(".")]


def test_resume_and_refusing_to_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", *TINY, "--out", str(out), "--epochs", "2"]
    assert main(args) == 0
    assert main(args) == 2  # the checkpoints of the earlier run are not overwritten
    assert "pass --resume to continue it, --overwrite to start afresh" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0  # already complete: nothing to train
    m = json.loads((out / "metrics.json").read_text())
    assert m["history"]["epoch"] == [1, 2]
    assert main([*args, "--resume", "--lr", "0.02"]) == 2
    assert "different configuration (lr: saved 0.01, now 0.02)" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_several_seeds_at_once(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["train", *TINY, "--out", str(out), "--seeds", "3", "--json"]) == 0
    final = json.loads(capsys.readouterr().out)
    assert len(final["test_accuracy"]) == 3
    assert 0 <= final["ensemble_test_accuracy"] <= 1
    assert final["test_accuracy_mean"] == pytest.approx(sum(final["test_accuracy"]) / 3)
    m = json.loads((out / "metrics.json").read_text())
    assert [r["seed"] for r in m["runs"]] == [0, 1, 2]
    assert len(m["history"]["test_accuracy"]) == 3  # (runs, epochs)
    assert _files(out) == ["checkpoints", "learning_curves.png", "metrics.json"]


def test_non_finite_loss_exits_with_its_message(tmp_path, capsys):
    out = tmp_path / "nan"
    rc = main(
        [
            "train",
            "--dataset",
            "diabetes",
            "--model",
            "linear_regression",
            "--epochs",
            "3",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--schedule",
            "constant",
            "--weight-decay",
            "0",
            "--no-progress",
            "--no-plot",
            "--out",
            str(out),
        ]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert "non-finite training loss" in err and "at epoch 1, step" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "non_finite" and m["epoch"] == 1 and m["step"] >= 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "--epochs must be a positive integer; got 0"),
        (["--batch-size", "-4"], "--batch-size must be a positive integer"),
        (["--dropout", "1.0"], "--dropout must be in [0, 1)"),
        (["--lr", "0"], "--lr must be > 0"),
        (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
        (["--seeds", "0"], "--seeds must be a positive integer"),
        (["--hidden", "8,x"], "--hidden must be comma-separated positive integers"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--batch-size", "1000"], "batch_size (1000) must be at most the training set size (120)"),
        (["--model", "linear_regression"], "needs a regression dataset; iris has 3 classes"),
        (["--seeds", "2", "--patience", "3"], "--patience (early stopping) works with one seed"),
        (["--patience", "3"], "early_stopping_patience needs a validation set"),
    ],
)
def test_bad_arguments_get_their_message(tmp_path, capsys, args, message):
    assert main(["train", *TINY, "--out", str(tmp_path / "bad"), *args]) == 2
    assert message in capsys.readouterr().err


def test_resume_needs_out(capsys):
    assert main(["train", *TINY, "--resume"]) == 2
    assert "--resume needs --out DIR" in capsys.readouterr().err


def test_logistic_regression_is_multinomial_on_many_classes(tmp_path, capsys):
    out = tmp_path / "logreg"
    assert (
        main(
            [
                "train",
                *TINY,
                "--model",
                "logistic_regression",
                "--out",
                str(out),
                "--no-plot",
                "--json",
            ]
        )
        == 0
    )
    final = json.loads(capsys.readouterr().out)
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["fit"]["model"]["kind"] == "softmax_regression"
    assert m["config"]["fit"]["loss"] == "softmax_cross_entropy"
    assert "test_accuracy" in final


def test_the_real_command(tmp_path):
    out = tmp_path / "sub"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "funcnn",
            "train",
            *[a for a in TINY if a != "--no-progress"],
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["epoch"] == 3
    assert "epoch" in proc.stderr  # the progress bar (tqdm) on stderr
    assert _files(out) == ["checkpoints", "learning_curves.png", "metrics.json"]
