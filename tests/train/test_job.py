"""funcnn.train.job: train_and_evaluate(config, workdir) in-process, its files and numbers."""

import dataclasses
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn.data import Augment, load
from funcnn.train import (
    Checkpointer,
    JobConfig,
    NonFiniteLossError,
    RunConfig,
    evaluate,
    init_state,
    train_and_evaluate,
)
from tests.train.test_registry import RECURRENT

# The recipe but for these (the settings of tests/cli/test_train.py, so their compiled
# programs are shared: with a constant rate they do not depend on the number of epochs).
RUN = {"epochs": 1, "batch_size": 16, "lr": 0.01, "schedule": "constant", "progress": False}
ONE_EPOCH = JobConfig(model="mlp", dataset="iris", model_options={"hidden": (8,)}, run=RUN)


def test_one_epoch_writes_its_files_and_numbers(tmp_path):
    out = train_and_evaluate(ONE_EPOCH, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["checkpoints", "learning_curves.png", "metrics.json"]
    assert os.listdir(tmp_path / "checkpoints") == ["1"]
    assert (tmp_path / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m == out.metrics and m["status"] == "ok"
    assert m["config"]["model_options"] == {"hidden": [8], "activation": "relu", "dropout": 0.1}
    run = m["config"]["run"]
    assert run["model"]["sizes"] == [4, 8, 3] and run["dataset"] == "iris"
    assert (run["epochs"], run["optimizer"], run["weight_decay"], run["n_train"]) == (
        1,
        "adamw",
        0.05,
        120,
    )
    assert set(m["versions"]) >= {"jax", "jaxlib", "optax"} and m["device"]["platform"] == "cpu"
    assert m["history"]["epoch"] == [1] and m["wall_time_s"] >= m["fit_time_s"] > 0

    # The numbers are those of the returned params ...
    data, result = load("iris"), out.result
    x, y = jnp.asarray(data.x_test, jnp.float32), jnp.asarray(data.y_test, jnp.int32)
    test = evaluate(out.model, result.params, x, y, "softmax_cross_entropy")
    assert m["final"]["test_accuracy"] == float(test["accuracy"]) == out.final["test_accuracy"]
    assert m["final"]["test_loss"] == float(test["loss"])
    assert m["history"]["train_loss"] == [m["final"]["train_loss"]]
    # ... and the checkpoint holds exactly the returned state.
    with Checkpointer(tmp_path / "checkpoints") as c:
        like = init_state(out.model, ONE_EPOCH.run.build_optimizer(7)[0], jax.random.key(0))
        state, meta = c.restore(like)
    chex.assert_trees_all_equal(state.params, result.state.params)
    chex.assert_trees_all_equal(state.opt_state, result.state.opt_state)
    assert meta["config"] == run and meta["history"] == m["history"]


def test_a_workdir_of_another_run_is_refused_resumed_or_overwritten(tmp_path):
    config = JobConfig(model="softmax_regression", dataset="iris", run=RUN, plot=False)
    first = train_and_evaluate(config, tmp_path)
    with pytest.raises(ValueError, match="holds checkpoints of an earlier run: continue it"):
        train_and_evaluate(config, tmp_path)
    resumed = train_and_evaluate(dataclasses.replace(config, resume=True), tmp_path)
    assert resumed.metrics["history"] == first.metrics["history"]  # nothing left to train
    again = train_and_evaluate(dataclasses.replace(config, overwrite=True), tmp_path)
    assert again.final["test_accuracy"] == first.final["test_accuracy"]


def test_several_seeds_report_mean_std_and_the_ensemble(tmp_path):
    config = JobConfig(
        model="mlp",
        dataset="iris",
        model_options={"hidden": (8,)},
        run={**RUN, "seeds": (0, 1, 2)},
        plot=False,
    )
    out = train_and_evaluate(config, tmp_path)
    acc = np.asarray(out.final["test_accuracy"])
    assert acc.shape == (3,) and out.metrics["runs"] == [{"seed": s} for s in (0, 1, 2)]
    assert out.final["test_accuracy_mean"] == pytest.approx(acc.mean())
    assert out.final["test_accuracy_std"] == pytest.approx(acc.std())
    data = load("iris")
    logits = np.stack(
        [
            np.asarray(
                out.model.apply(jax.tree.map(lambda a, i=i: a[i], out.result.params), data.x_test)
            )
            for i in range(3)
        ]
    )
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (probs / probs.sum(-1, keepdims=True)).mean(0)
    by_hand = float(np.mean(probs.argmax(1) == data.y_test))
    assert out.final["ensemble_test_accuracy"] == pytest.approx(by_hand)


def test_a_nonfinite_loss_is_recorded(tmp_path):
    run = dict(RUN, optimizer="sgd", lr=1e30, schedule="constant", weight_decay=0.0, epochs=3)
    config = JobConfig(model="linear_regression", dataset="diabetes", run=run, plot=False)
    with pytest.raises(NonFiniteLossError, match="at epoch 1, step"):
        train_and_evaluate(config, tmp_path)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["status"] == "non_finite" and m["epoch"] == 1 and m["step"] >= 1
    assert m["config"] == config.to_dict() and m["history"] == {}
    assert m["last_checkpoint_epoch"] is None and "device" in m


@pytest.mark.parametrize(
    "fields,exc,match",
    [
        (
            dict(model="cnnx"),
            ValueError,
            "unknown model 'cnnx'; valid names are: cnn, gru, linear_regression, "
            "logistic_regression, mlp, rnn, softmax_regression",
        ),
        (
            dict(model="softmax_regression", model_options={"dropout": 0.1}),
            ValueError,
            "does not take",
        ),
        (dict(run={"lr": -1.0}), ValueError, "lr must be a positive"),
        (dict(run={"epochs": 0}), ValueError, "epochs must be a positive integer; got 0"),
        (
            dict(run={"lrate": 0.1}),
            TypeError,
            r"JobConfig.run got unexpected keyword arguments \['lrate'\]; valid: augment, "
            "batch_size, checkpoint_dir",
        ),
        (dict(run=3), TypeError, "run must be a RunConfig or a mapping; got int"),
        (dict(run=RunConfig(checkpoint_dir="x")), ValueError, "set by train_and_evaluate"),
        (dict(devices=-1), ValueError, "devices must be a non-negative integer; got -1"),
        (dict(devices=2, run={"seeds": (0, 1)}), ValueError, "several seeds train on one device"),
        (dict(resume=True, overwrite=True), ValueError, "resume and overwrite exclude each other"),
    ],
)
def test_bad_job_configurations(fields, exc, match):
    with pytest.raises(exc, match=match):
        JobConfig(**fields)


def test_the_job_configuration_defaults_to_the_models_recipe():
    config = JobConfig()
    assert (config.model, config.dataset) == ("mlp", "mnist1d")
    assert config.run == RunConfig(
        optimizer="adamw",
        lr=7e-3,
        schedule="cosine",
        weight_decay=0.05,
        epochs=120,
        augment=Augment(shift=8, scale=0.2, noise=0.05),
    )
    assert dict(config.model_options) == {
        "hidden": (256, 256),
        "activation": "relu",
        "dropout": 0.1,
    }
    assert json.loads(json.dumps(config.to_dict()))["run"]["lr"] == 7e-3
    with pytest.raises(TypeError):
        config.model_options["hidden"] = (3,)  # read-only


def test_settings_given_replace_the_recurrent_recipe_and_the_rest_stay():
    config = JobConfig(model="gru", run={"epochs": 3, "label_smoothing": 0.0})
    assert config.run == RunConfig(**{**RECURRENT, "epochs": 3, "label_smoothing": 0.0})
    assert config.run.grad == "manual" and config.run.augment == Augment(8, 0.2, noise=0.05)
    assert dict(config.model_options) == {"hidden_size": 96, "chunk": 2, "bidirectional": True}
