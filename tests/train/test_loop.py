"""funcnn.train.loop: the small functions the epoch loop is made of."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from funcnn.train import NonFiniteLossError, RunConfig
from funcnn.train.loop import (
    Best,
    LoopState,
    Plan,
    check_losses,
    checkpoint_due,
    epoch_record,
    first_nonfinite,
    initial_best,
    postfix,
    update_best,
)


def _eval_fn(params, x, y):  # a stand-in for the jitted evaluation: loss = mean(x) * params
    return {"loss": jnp.mean(x) * params, "accuracy": jnp.mean(y)}


def _plan(config=None, runs=None, lrs=None):
    config = config or RunConfig()
    splits = {"train": (jnp.ones(4), jnp.zeros(4)), "test": (2 * jnp.ones(4), jnp.ones(4))}
    return Plan(None, _eval_fn, splits, config, {}, 6, lrs, runs, "test")


class _State:  # only .params is read
    params = jnp.asarray(3.0)


def test_first_nonfinite_finds_the_run_and_the_step():
    assert first_nonfinite(np.ones((2, 5))) is None
    losses = np.ones((3, 5))
    losses[2, 1] = np.inf
    losses[1, 3] = np.nan
    assert first_nonfinite(losses) == (1, 3)


def test_a_nonfinite_loss_names_the_run_the_epoch_and_the_step():
    plan = _plan(runs=[{"seed": 4}, {"seed": 5}])
    loop = LoopState(None, {"epoch": [1]}, 1, 1, None)
    losses = np.ones((2, 6))
    losses[1, 2] = np.nan
    with pytest.raises(NonFiniteLossError) as info:
        check_losses(plan, loop, losses, 2, "/ckpt")
    e = info.value
    assert (e.epoch, e.step, e.run, e.checkpoint_epoch) == (2, 9, 1, 1)
    assert "in run 1 ({'seed': 5}) at epoch 2, step 9 (batch 3 of 6)" in str(e)
    assert "the last good checkpoint (epoch 1) in /ckpt is intact" in str(e)
    check_losses(plan, loop, np.ones((2, 6)), 2, None)  # finite: nothing happens


def test_an_epoch_record_holds_the_step_means_the_rate_and_the_evaluations():
    metrics = {"loss": np.array([1.0, 2.0, 3.0]), "grad_norm": np.array([0.5, 0.5, 2.0])}
    plan = _plan(lrs=np.array([0.3, 0.2]))
    r = epoch_record(plan, _State, metrics, 2)
    assert r == {
        "epoch": 2,
        "loss": 2.0,
        "grad_norm": 1.0,
        "lr": pytest.approx(0.2),
        "train_loss": 3.0,
        "train_accuracy": 0.0,
        "test_loss": 6.0,
        "test_accuracy": 1.0,
    }
    quiet = epoch_record(_plan(RunConfig(eval_train=False)), _State, metrics, 1)
    assert "train_loss" not in quiet and "lr" not in quiet


@pytest.mark.parametrize(
    "every,epochs,epoch,stopped,due",
    [(None, 5, 5, False, True), (None, 5, 3, False, False), (None, 5, 3, True, True)]
    + [(2, 5, 4, False, True), (2, 5, 3, False, False), (2, 5, 5, False, True)],
)
def test_checkpoints_are_due_every_n_epochs_at_the_end_and_on_stopping(
    every, epochs, epoch, stopped, due
):
    assert checkpoint_due(RunConfig(epochs=epochs, checkpoint_every=every), epoch, stopped) is due


def test_early_stopping_tracks_the_best_epoch():
    config = RunConfig(loss="softmax_cross_entropy", early_stopping_patience=2)
    assert initial_best(RunConfig(), {}, 0) is None  # off without patience
    best = initial_best(config, {}, 0)
    assert best == Best("val_accuracy")
    for epoch, acc in enumerate([0.5, 0.7, 0.6, 0.7], start=1):
        best = update_best(best, {"epoch": epoch, "val_accuracy": acc}, _State)
    assert (best.value, best.epoch, best.bad_epochs) == (0.7, 2, 2)  # ties do not improve
    assert float(best.params) == 3.0
    # A resumed run rebuilds it from the history (but not the params: they are not kept).
    resumed = initial_best(config, {"val_accuracy": [0.5, 0.7, 0.6, 0.7]}, 4)
    assert resumed == best._replace(params=None)
    loss = initial_best(config.replace(loss="mse"), {"val_loss": [[3.0, 1.0], [1.0, 2.0]]}, 2)
    assert (loss.metric, loss.value, loss.epoch, loss.bad_epochs) == ("val_loss", 1.5, 2, 0)


def test_the_progress_bar_shows_four_means():
    record = {"epoch": 3, "loss": [1.0, 3.0], "train_accuracy": [0.5, 0.7], "val_loss": 0.25}
    record |= {"test_accuracy": 0.125, "test_loss": 9.0, "val_accuracy": 0.75}
    shown = postfix(record)
    assert shown == {"loss": "2", "train_acc": "0.6", "val_acc": "0.75", "test_acc": "0.125"}
    assert math.isclose(float(shown["train_acc"]), 0.6)
