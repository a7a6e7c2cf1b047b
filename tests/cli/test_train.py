"""``funcnn train`` end to end on tiny configurations (in-process through funcnn.cli.main,
plus one real subprocess), and its flags: recipes, help, errors."""

import json
import os
import re
import subprocess
import sys

import pytest

import funcnn
from funcnn.cli import build_parser, main
from funcnn.train.registry import MNIST1D_AUGMENT
from funcnn.train_cli import DEFAULTS, job_config
from tests.train.test_registry import MNIST1D

BASE = ["--dataset", "iris", "--epochs", "3", "--batch-size", "16", "--no-progress"]
TINY = [*BASE, "--hidden", "8", "--lr", "0.01", "--schedule", "constant"]  # as tests/train/test_job


def _files(out):
    return sorted(os.listdir(out))


def _config(*flags):
    return job_config(build_parser().parse_args(["train", *flags]))


def test_train_writes_all_its_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out), "--json", "--checkpoint-every", "2"]) == 0
    captured = capsys.readouterr()
    final = json.loads(captured.out)  # --json: only the final metrics on stdout
    assert "mlp on iris: train_loss" in captured.err  # the human summary goes to stderr

    assert _files(out) == ["checkpoints", "learning_curves.png", "metrics.json"]
    assert sorted(os.listdir(out / "checkpoints")) == ["2", "3"]
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "ok" and m["final"] == final
    assert set(m["versions"]) >= {"jax", "jaxlib", "optax"}
    assert m["device"]["platform"] == "cpu" and m["device"]["device_kind"]
    assert m["config"]["model_options"]["hidden"] == [8] and m["config"]["run"]["epochs"] == 3
    assert m["config"]["run"]["model"]["sizes"] == [4, 8, 3]
    assert m["config"]["run"]["checkpoint_every"] == 2 and m["config"]["run"]["lr"] == 0.01
    assert m["history"]["epoch"] == [1, 2, 3] and len(m["history"]["loss"]) == 3
    assert final["epoch"] == 3 and final["test_accuracy"] == m["history"]["test_accuracy"][-1]
    assert "train_loss" not in m["history"] and final["train_loss"] > 0  # once, at the end
    assert m["wall_time_s"] > m["fit_time_s"] > 0
    # No stray temporary files from the atomic writes.
    assert not [f for f in os.listdir(out) if f.startswith(".")]


def test_flags_not_given_take_the_models_recipe():
    config = _config("--model", "softmax_regression")
    assert config.run.optimizer == "adamw" and config.run.lr == 7e-3
    assert (config.run.epochs, config.run.batch_size, config.run.schedule) == (50, 128, "cosine")
    assert config.run.eval_train is False and config.run.checkpoint_every == 25
    given = _config("--lr", "0.01", "--hidden", "16,8", "--clip-norm", "1")
    assert given.run.lr == 0.01 and given.run.weight_decay == 0.05
    assert given.run.clip_norm == 1.0 and given.model_options["hidden"] == (16, 8)
    assert dict(given.model_options) | {"hidden": (256, 256)} == dict(_config().model_options)
    assert _config("--seeds", "3", "--seed", "5").run.seeds == (5, 6, 7)
    assert _config("--checkpoint-every", "0").run.checkpoint_every is None


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # One default where every recipe agrees, each model's where they differ.
    linear = ("logistic_regression", "softmax_regression", "linear_regression")
    for flag, default in [
        ("--hidden HIDDEN", "256,256"),
        ("--optimizer", "adamw"),
        ("--schedule", "cosine"),
        ("--batch-size BATCH_SIZE", "128"),
        ("--kernel-size KERNEL_SIZE", "5"),
        ("--hidden-size HIDDEN_SIZE", "96"),
        ("--lr LR", ", ".join(f"{m}: 0.007" for m in ("mlp", *linear[:2]))
         + ", linear_regression: 10.0, cnn: 0.006, gru: 0.006, rnn: 0.006"),
        ("--epochs EPOCHS", "mlp: 120, " + ", ".join(f"{m}: 50" for m in linear) + ", cnn: 60, "
         "gru: 60, rnn: 60"),
        ("--grad", ", ".join(f"{m}: autodiff" for m in ("mlp", *linear)) + ", cnn: manual, gru: "
         "manual, rnn: manual"),
        ("--clip-norm CLIP_NORM", ", ".join(f"{m}: none" for m in ("mlp", *linear, "cnn"))
         + ", gru: 1.0, rnn: 1.0"),
    ]:  # fmt: skip
        # the flag's own help: up to the next flag (" --")
        assert re.search(rf"{flag} (?:(?! --).)*\(default: {re.escape(default)}\)", text), flag


def test_defaults_of_the_mlp_recipe_by_flag_name():
    assert DEFAULTS == dict(
        model="mlp",
        dataset="mnist1d",
        hidden="256,256",
        activation="relu",
        dropout=0.1,
        **{**MNIST1D, "epochs": 120, "augment": MNIST1D_AUGMENT},  # the recipe's optimization
        seed=0,
        seeds=1,
        checkpoint_every=25,
    )


def test_resume_and_refusing_to_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", *TINY, "--out", str(out), "--epochs", "2"]
    assert main(args) == 0
    assert main(args) == 2  # the checkpoints of the earlier run are not overwritten
    err = capsys.readouterr().err
    assert "holds checkpoints of an earlier run" in err and "(funcnn train --resume)" in err
    assert main([*args, "--resume"]) == 0  # already complete: nothing to train
    m = json.loads((out / "metrics.json").read_text())
    assert m["history"]["epoch"] == [1, 2]
    assert main([*args, "--resume", "--lr", "0.02"]) == 2
    assert "different configuration (lr: saved 0.01, now 0.02)" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_several_seeds_at_once(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["train", *TINY, "--out", str(out), "--seeds", "3", "--json", "--no-plot"]) == 0
    captured = capsys.readouterr()
    final = json.loads(captured.out)
    m = json.loads((out / "metrics.json").read_text())
    assert m["final"] == final and len(final["test_accuracy"]) == 3
    assert (
        f"ensemble of 3 seeds: test_accuracy {final['ensemble_test_accuracy']:.4f}" in captured.err
    )
    assert final["test_accuracy_mean"] == pytest.approx(sum(final["test_accuracy"]) / 3)
    assert [r["seed"] for r in m["runs"]] == [0, 1, 2]
    assert len(m["history"]["test_accuracy"]) == 3  # (runs, epochs)
    assert _files(out) == ["checkpoints", "metrics.json"]


def test_non_finite_loss_exits_with_its_message(tmp_path, capsys):
    out = tmp_path / "nan"
    flags = ["--dataset", "diabetes", "--model", "linear_regression", "--optimizer", "sgd"]
    flags += ["--lr", "1e30", "--schedule", "constant", "--weight-decay", "0", "--epochs", "3"]
    rc = main(["train", *flags, "--no-progress", "--no-plot", "--out", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "non-finite training loss" in err and "at epoch 1, step" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "non_finite" and m["epoch"] == 1 and m["step"] >= 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "epochs must be a positive integer; got 0"),
        (["--batch-size", "-4"], "batch_size must be a positive integer; got -4"),
        (["--dropout", "1.0"], "dropout[0] must be a drop probability in [0, 1); got 1.0"),
        (["--lr", "0"], "lr must be a positive, finite learning rate; got 0.0"),
        (["--weight-decay", "-1"], "weight_decay must be a finite number >= 0; got -1.0"),
        (["--seed", "-1"], "seed must be a non-negative integer; got -1"),
        (["--seeds", "0"], "--seeds must be a positive integer; got 0"),
        (["--devices", "-1"], "devices must be a non-negative integer; got -1"),
        (["--seeds", "2", "--devices", "2"], "several seeds train on one device"),
        (["--hidden", "8,x"], "--hidden must be comma-separated positive integers; got '8,x'"),
        (["--hidden", "none"], "model 'mlp' needs at least one hidden layer"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (
            ["--batch-size", "1000"],
            "batch_size must be at most the number of examples n = 120; got 1000",
        ),
        (
            ["--model", "logistic_regression", "--hidden", "8"],
            "does not take the options ['hidden']",
        ),
        (
            ["--seeds", "2", "--patience", "3"],
            "fit_seeds does not support early_stopping_patience=",
        ),
        (["--patience", "3"], "early_stopping_patience needs a validation set"),
        (["--resume", "--overwrite"], "resume and overwrite exclude each other"),
        (["--augment", "shift=x"], "--augment shift must be a number; got 'x'"),
        (["--augment", "flip=1"], "--augment takes name=value pairs with names shift, scale"),
        (["--augment", "scale=1.5"], "scale must be < 1"),
        (["--label-smoothing", "1"], "label_smoothing must be a number in [0, 1)"),
        (["--model", "gru", "--hidden", "8"], "does not take the options ['hidden']"),
        (["--model", "cnn", "--channels", "4,8", "--strides", "1"], "one stride per convolution"),
        (["--model", "gru", "--chunk", "3"], "chunk (3 samples per step) must divide"),
        (["--layer-lr", "1,x"], "layer_lr must be comma-separated numbers"),
        (["--layer-lr", "1,1"], "layer_lr has 2 entries but the model's params list has 3"),
        (["--conventions", "paper"], "conventions='paper' needs optimizer_impl='funcnn'"),
    ],
)
def test_bad_arguments_get_their_message(tmp_path, capsys, args, message):
    assert main(["train", *BASE, "--out", str(tmp_path / "bad"), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_model_for_the_wrong_task_is_refused(tmp_path, capsys):
    assert main(["train", *BASE, "--model", "linear_regression", "--out", str(tmp_path)]) == 2
    assert "needs a regression dataset; iris has 3 classes" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, kind, shapes",
    [
        (["--model", "cnn", "--channels", "3,5", "--strides", "1,2", "--kernel-size", "3"],
         "cnn", [[4], [4, 1], [4, 3], [4, 3], [2, 5], [2, 5], [5], [5], [3]]),
        (["--model", "gru", "--hidden-size", "3", "--no-bidirectional", "--chunk", "2"],
         "gru", [[4], [2, 2], [3], [3]]),
    ],
)  # fmt: skip
def test_sequence_models_train_from_their_flags(tmp_path, capsys, flags, kind, shapes):
    out = tmp_path / kind
    run = [*BASE, *flags, "--augment", "shift=1,noise=0.1", "--out", str(out), "--no-plot"]
    assert main(["train", *run]) == 0
    m = json.loads((out / "metrics.json").read_text())
    model = m["config"]["run"]["model"]
    assert model["kind"] == kind
    assert m["config"]["run"]["augment"] == {"shift": 1, "scale": 0.0, "shear": 0.0, "noise": 0.1}
    assert m["config"]["run"]["grad"] == "manual"  # the recipe's
    assert m["config"]["run"]["label_smoothing"] == 0.1
    net = {"cnn": funcnn.cnn(4, 3, channels=(3, 5), strides=(1, 2), kernel_size=3, dropout=0.2),
           "gru": funcnn.recurrent(4, 3, hidden_size=3, bidirectional=False)}[kind]  # fmt: skip
    assert [list(s) for s in net.shapes] == shapes and model == net.to_config()


def test_resume_needs_out(capsys):
    assert main(["train", *TINY, "--resume"]) == 2
    assert "--resume needs --out DIR" in capsys.readouterr().err


def test_logistic_regression_is_multinomial_on_many_classes(tmp_path, capsys):
    out = tmp_path / "logreg"
    flags = [*BASE, "--model", "logistic_regression", "--out", str(out), "--no-plot", "--json"]
    assert main(["train", *flags]) == 0
    final = json.loads(capsys.readouterr().out)
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["run"]["model"]["kind"] == "softmax_regression"
    assert m["config"]["run"]["model"]["sizes"] == [4, 3]
    assert m["config"]["run"]["loss"] == "softmax_cross_entropy"
    assert m["config"]["run"]["lr"] == 7e-3  # the recipe's
    assert final["test_accuracy"] == m["history"]["test_accuracy"][-1]


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
    assert "mlp on iris: 100%" in proc.stderr and "3/3" in proc.stderr  # the progress bar
    assert _files(out) == ["checkpoints", "learning_curves.png", "metrics.json"]


def test_update_rule_flags_reach_metrics_json(tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["--optimizer-impl", "funcnn", "--layer-lr", "1,0.5", "--update", "layerwise"]
    assert main(["train", *TINY, *flags, "--out", str(out), "--no-plot"]) == 0
    run = json.loads((out / "metrics.json").read_text())["config"]["run"]
    assert (run["optimizer_impl"], run["conventions"]) == ("funcnn", "paper")
    assert run["layer_lr"] == [1.0, 0.5] and run["update"] == "layerwise"
    default = _config().run
    assert (default.optimizer_impl, default.conventions) == ("optax", "optax")
    assert default.layer_lr is None and default.update == "simultaneous"
