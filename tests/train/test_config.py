"""funcnn.train.config: one frozen, validated RunConfig; its JSON; resume comparisons."""

import dataclasses
import json

import chex
import optax
import pytest

from funcnn.train import RESUME_FREE, RunConfig, fit, fit_seeds
from funcnn.train.config import resume_conflicts, run_config
from tests.train.tiny import DATA, NET, TINY

# (fields, exception, message): every bad setting is named in its error.
BAD = [
    (dict(loss="hinge"), ValueError, "unknown loss 'hinge'; valid names are"),
    (dict(loss=lambda a, b: 0.0, grad="manual"), ValueError, 'grad="manual" needs the loss'),
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'; valid names are: adagrad"),
    (dict(optimizer=3), TypeError, "optimizer must be a name or an optax.GradientTransformation"),
    (dict(lr=0.0), ValueError, "lr must be a positive, finite learning rate; got 0.0"),
    (dict(lr=float("inf")), ValueError, "lr must be a positive, finite learning rate"),
    (dict(lr="0.1"), TypeError, "lr must be a positive number"),
    (dict(lr=lambda k: 0.1), TypeError, "lr must be a number; give the schedule by name"),
    (dict(schedule="step"), ValueError, "unknown schedule 'step'; valid names are: constant"),
    (dict(warmup_steps=-1), ValueError, "warmup_steps must be a non-negative integer; got -1"),
    (dict(epochs=0), ValueError, "epochs must be a positive integer; got 0"),
    (dict(epochs=2.5), ValueError, "epochs must be a positive integer; got 2.5"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer; got 0"),
    (dict(seed=-1), ValueError, "seed must be a non-negative integer; got -1"),
    (dict(seed=True), ValueError, "seed must be a non-negative integer; got True"),
    (dict(seeds=[]), ValueError, "seeds must not be empty"),
    (dict(seeds=[0, -2]), ValueError, "seed must be a non-negative integer; got -2"),
    (dict(seeds=3), TypeError, "seeds must be a sequence of integers; got 3"),
    (dict(grid=("lr", [0.1])), ValueError, r"grid= trains several runs: use fit_seeds"),
    (dict(seeds=[0], grid=("dropout", [0.1])), ValueError, "unknown grid hyperparameter"),
    (dict(seeds=[0], grid=("lr",)), TypeError, r"grid must be a pair \(name, values\)"),
    (dict(seeds=[0], grid=("lr", [0.0])), ValueError, "grid value lr=0.0 must be finite and > 0"),
    (dict(seeds=[0], grid=("l2", [-1])), ValueError, "grid value l2=-1.0 must be finite and >= 0"),
    (dict(seeds=[0], grid=("l1", [])), ValueError, "grid values for 'l1' must not be empty"),
    (
        dict(seeds=[0], grid=("lr", [0.1]), optimizer=optax.sgd(0.1)),
        ValueError,
        "a grid over 'lr' needs a named optimizer",
    ),
    (dict(data_seed=-1), ValueError, "data_seed must be a non-negative integer; got -1"),
    (dict(grad="numeric"), ValueError, "unknown grad 'numeric'; valid names are: autodiff"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay must be a finite number >= 0"),
    (dict(l2=-1.0), ValueError, "l2 must be a finite number >= 0; got -1.0"),
    (dict(l1=float("nan")), ValueError, "l1 must be a finite number >= 0"),
    (dict(momentum=-0.5), ValueError, "momentum must be a finite number >= 0"),
    (dict(clip_norm=0.0), ValueError, "clip_norm must be > 0 .or None to disable clipping."),
    (dict(clip_norm=-1.0), ValueError, "clip_norm must be a finite number >= 0"),
    (
        dict(dtype="int32"),
        ValueError,
        "dtype must be a floating dtype .float32, float64.; got 'int32'",
    ),
    (dict(dtype="float33"), ValueError, "dtype must be a floating dtype .* got 'float33'"),
    (dict(early_stopping_patience=0), ValueError, "early_stopping_patience must be a positive"),
    (
        dict(early_stopping_patience=2, seeds=[0, 1]),
        ValueError,
        "fit_seeds does not support early_stopping_patience=; use fit for it",
    ),
    (dict(checkpoint_every=0), ValueError, "checkpoint_every must be a positive integer; got 0"),
    (dict(resume=True), ValueError, "resume=True needs checkpoint_dir="),
    (dict(progress="yes"), TypeError, "progress must be True or False; got 'yes'"),
]


@pytest.mark.parametrize("fields,exc,match", BAD)
def test_every_bad_setting_gets_an_error_naming_it(fields, exc, match):
    with pytest.raises(exc, match=match):
        RunConfig(**fields)


def test_the_configuration_is_frozen_and_normalized():
    c = RunConfig(seeds=range(2, 4), grid=["lr", [1, 2]], dtype="float64", checkpoint_dir=".")
    assert c.seeds == (2, 3) and c.grid == ("lr", (1.0, 2.0)) and c.dtype == "float64"
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 0.1
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        c.replace(epochs=0)  # a copy is validated again
    assert hash(RunConfig(lr=0.1)) == hash(RunConfig(lr=0.1))


def test_to_dict_is_json_with_one_run_or_several():
    one = RunConfig(lr=0.1, optimizer=optax.sgd(0.1), loss=lambda a, b: 0.0).to_dict()
    assert json.loads(json.dumps(one)) == one
    assert one["seed"] == 0 and "seeds" not in one and "grid" not in one
    assert one["optimizer"].startswith("GradientTransformation") and isinstance(one["loss"], str)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    assert set(one) == fields - {"seeds", "grid"}
    many = RunConfig(seeds=[0, 1], grid=("lr", [0.1, 0.2])).to_dict()
    assert many["seeds"] == [0, 1] and many["grid"] == ["lr", [0.1, 0.2]] and "seed" not in many


def test_options_replace_the_given_configuration():
    base = RunConfig(lr=0.2, epochs=4)
    assert run_config(None, {"lr": 0.3}, "fit") == RunConfig(lr=0.3)
    assert run_config(base, {}, "fit") is base
    assert run_config(base, {"epochs": 2}, "fit") == RunConfig(lr=0.2, epochs=2)
    with pytest.raises(TypeError, match=r"fit got unexpected keyword arguments \['lrate'\]"):
        run_config(None, {"lrate": 0.1}, "fit")
    with pytest.raises(TypeError, match="config must be a funcnn.train.RunConfig; got dict"):
        run_config({"lr": 0.1}, {}, "fit")


def test_resume_compares_every_setting_but_the_free_ones():
    saved = json.loads(json.dumps({**RunConfig(lr=0.1).to_dict(), "model": {"sizes": [4, 3]}}))
    now = {
        **RunConfig(lr=0.2, progress=False, checkpoint_every=3).to_dict(),
        "model": {"sizes": (4, 3)},
    }
    assert resume_conflicts(saved, now) == ["lr: saved 0.1, now 0.2"]
    assert {"progress", "checkpoint_every", "checkpoint_dir", "resume"} <= RESUME_FREE
    assert "lr" not in RESUME_FREE and "seed" not in RESUME_FREE


def test_fit_takes_a_config_or_its_fields_alike():
    config = RunConfig(**TINY)
    by_config = fit(NET, DATA, config=config)
    by_fields = fit(NET, DATA, **TINY)
    chex.assert_trees_all_equal(by_config.params, by_fields.params)
    assert by_config.history["loss"] == by_fields.history["loss"]
    assert by_config.config == by_fields.config
    assert by_config.config["loss"] == "softmax_cross_entropy"  # inferred, then recorded
    assert by_config.config["model"] == NET.to_config() and by_config.config["n_train"] == 48
    with pytest.raises(ValueError, match="fit trains one run .seed=.; for seeds= use fit_seeds"):
        fit(NET, DATA, config=config.replace(seeds=(0, 1)))
    with pytest.raises(TypeError, match="fit_seeds needs seeds="):
        fit_seeds(NET, DATA, config=config)
