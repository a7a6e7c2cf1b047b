"""funcnn.train.seeds: many seeds (times a grid) in one vmapped program equal separate fits."""

import chex
import numpy as np
import pytest

from funcnn.train import RunConfig, fit, fit_seeds, stack_runs
from tests.train.tiny import DATA, NET, TINY, close, differ


def _run(result, i):
    return [{k: v[i] for k, v in layer.items()} for layer in result.params]


def test_fit_seeds_equals_separate_runs():
    kw = dict(TINY, l2=1e-3)
    many = fit_seeds(NET, DATA, [0, 1], grid=("lr", [0.05, 0.2]), **kw)
    assert many.runs == [
        {"lr": 0.05, "seed": 0},
        {"lr": 0.05, "seed": 1},
        {"lr": 0.2, "seed": 0},
        {"lr": 0.2, "seed": 1},
    ]
    kw.pop("lr")
    single = [fit(NET, DATA, seed=r["seed"], lr=r["lr"], **kw) for r in many.runs]
    close(many.params, stack_runs(single))
    assert many.history["test_accuracy"].shape == (4, 3) and many.history["epoch"].shape == (3,)
    assert "lr" not in many.history  # the learning rate is the grid's, one per run
    for i, s in enumerate(single):
        np.testing.assert_allclose(many.history["loss"][i], s.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(
            many.history["test_accuracy"][i], s.history["test_accuracy"], rtol=1e-6
        )
        assert many.final["test_accuracy"][i] == many.history["test_accuracy"][i, -1]
    assert differ(_run(many, 0), _run(many, 1))  # different seeds really differ
    assert many.config["seeds"] == [0, 1] and many.config["grid"] == ["lr", [0.05, 0.2]]
    assert "seed" not in many.config


def test_fit_seeds_with_a_shared_data_order_equals_separate_runs():
    kw = dict(TINY, epochs=2, data_seed=7)
    many = fit_seeds(NET, DATA, [0, 1], **kw)
    single = [fit(NET, DATA, seed=s, **kw) for s in (0, 1)]
    close(many.params, stack_runs(single))
    np.testing.assert_allclose(many.history["lr"], single[0].history["lr"])
    # the data order is not the seed's: it differs from the default run of seed 0
    own = fit(NET, DATA, seed=0, **{**kw, "data_seed": None})
    assert differ(own.params, single[0].params)


def test_fit_seeds_grid_over_a_penalty_with_manual_gradients():
    # A traced l2 (the grid under vmap) goes straight into funcnn.backprop: same result.
    kw = dict(TINY, epochs=2, grid=("l2", [0.0, 0.1]))
    manual = fit_seeds(NET, DATA, [3], grad="manual", **kw)
    auto = fit_seeds(NET, DATA, [3], grad="autodiff", **kw)
    close(manual.params, auto.params)
    assert differ(_run(auto, 0), _run(auto, 1))


def test_fit_seeds_takes_a_config_and_evaluates_the_training_set_at_the_end():
    config = RunConfig(**{**TINY, "epochs": 2}, seeds=(0, 1), data_seed=7)
    every = fit_seeds(NET, DATA, config=config)
    once = fit_seeds(NET, DATA, config=config.replace(eval_train=False))
    assert "train_loss" not in once.history
    np.testing.assert_array_equal(once.final["train_loss"], every.final["train_loss"])
    assert once.final["train_accuracy"].shape == (2,)
    chex.assert_trees_all_equal(once.params, every.params)


def test_fit_seeds_bad_arguments():
    with pytest.raises(ValueError, match="seeds must not be empty"):
        fit_seeds(NET, DATA, [], **TINY)
    with pytest.raises(ValueError, match="unknown grid hyperparameter 'dropout'"):
        fit_seeds(NET, DATA, [0], grid=("dropout", [0.1]), **TINY)
    with pytest.raises(ValueError, match="fit_seeds does not support mesh="):
        fit_seeds(NET, DATA, [0], mesh=None, **TINY)
    with pytest.raises(ValueError, match="fit_seeds does not support early_stopping_patience="):
        fit_seeds(NET, DATA, [0], early_stopping_patience=2, **TINY)
    with pytest.raises(ValueError, match="seed must be a non-negative integer; got -2"):
        fit_seeds(NET, DATA, [0, -2], **TINY)
