"""funcnn.train.fit: training, its history and final metrics, non-finite losses, early
stopping, callbacks, evaluation of the training set."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnn
from funcnn.data import Dataset
from funcnn.train import Checkpointer, NonFiniteLossError, evaluate, fit, init_state
from tests.train.tiny import DATA, DATA_VAL, NET, TINY, X_TE, X_TR, X_VA, Y_TE, Y_VA, close

LOSS = "softmax_cross_entropy"


def _eval(params, x, y):
    return {
        k: float(v) for k, v in evaluate(NET, params, jnp.asarray(x), jnp.asarray(y), LOSS).items()
    }


def test_fit_learns_and_records_history():
    r = fit(NET, DATA, epochs=8, batch_size=8, lr=0.1, optimizer="momentum", progress=False)
    h = r.history
    assert h["epoch"] == list(range(1, 9))
    keys = ("loss", "grad_norm", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy")
    assert set(h) == {"epoch", "time_s", *keys}
    assert all(len(h[k]) == 8 for k in keys)
    assert h["lr"] == [pytest.approx(0.1)] * 8 and np.all(np.diff(h["time_s"]) > 0)
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert r.final == {k: v[-1] for k, v in h.items()}
    assert r.final["test_accuracy"] >= 0.9
    assert _eval(r.params, X_TE, Y_TE) == {
        "accuracy": h["test_accuracy"][-1],
        "loss": h["test_loss"][-1],
    }
    assert int(r.state.step) == 8 * (48 // 8)
    chex.assert_trees_all_equal(r.params, r.state.params)  # no early stopping: the last ones
    chex.assert_tree_all_finite((r.params, r.state.opt_state))
    assert r.best_epoch is None and not r.stopped_early
    assert r.config["loss"] == LOSS and r.config["epochs"] == 8 and r.wall_time_s >= h["time_s"][-1]


def test_manual_and_autodiff_training_agree():
    kw = dict(TINY, l2=1e-2, l1=1e-3, weight_decay=0.1)
    a = fit(NET, DATA, grad="autodiff", **kw)
    m = fit(NET, DATA, grad="manual", **kw)
    close(a.params, m.params)
    np.testing.assert_allclose(a.history["loss"], m.history["loss"], rtol=1e-5)


def test_without_eval_train_the_training_set_is_evaluated_once_at_the_end():
    every = fit(NET, DATA, **TINY)
    once = fit(NET, DATA, **TINY, eval_train=False)
    assert "train_loss" not in once.history and "train_accuracy" not in once.history
    assert once.final["train_loss"] == every.history["train_loss"][-1]
    assert once.final["train_accuracy"] == every.history["train_accuracy"][-1]
    assert once.history["test_loss"] == every.history["test_loss"]


def test_a_callback_sees_every_epoch_and_can_stop(tmp_path):
    seen = []

    def callback(epoch, state, history):
        seen.append((epoch, int(state.step), len(history["epoch"])))
        return epoch == 2

    r = fit(NET, DATA, **{**TINY, "epochs": 5}, callback=callback, checkpoint_dir=tmp_path)
    assert seen == [(1, 6, 1), (2, 12, 2)]
    assert r.history["epoch"] == [1, 2] and not r.stopped_early  # stopped, but not early
    with Checkpointer(tmp_path) as c:
        assert c.all_epochs() == [2]  # the stopping epoch is checkpointed


def test_nonfinite_loss_stops_with_epoch_and_step_and_keeps_the_checkpoint(tmp_path):
    # The learning rate jumps to inf at update 13 (epoch 3 of 6 updates each).
    def sched(k):
        return jnp.where(k < 12, 0.01, jnp.inf)

    opt = optax.sgd(sched)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(NonFiniteLossError) as info:
        fit(
            NET,
            DATA,
            **{**TINY, "epochs": 6, "optimizer": opt},
            checkpoint_dir=ckpt,
            checkpoint_every=1,
        )
    e = info.value
    assert e.epoch == 3 and 13 < e.step <= 18 and e.run is None
    msg = str(e)
    assert f"at epoch 3, step {e.step} (batch {e.step - 12} of 6)" in msg
    assert "the last good checkpoint (epoch 2)" in msg and "is intact" in msg
    assert e.history["epoch"] == [1, 2] and e.checkpoint_epoch == 2
    with Checkpointer(ckpt) as c:
        assert c.latest_epoch() == 2
        state, meta = c.restore(init_state(NET, opt, jax.random.key(0)))
    chex.assert_tree_all_finite(state.params)
    assert int(state.step) == 12 and meta["epoch"] == 2


def test_early_stopping_returns_the_best_epoch(tmp_path):
    r = fit(
        NET,
        DATA_VAL,
        epochs=30,
        batch_size=8,
        lr=0.5,
        optimizer="momentum",
        early_stopping_patience=2,
        progress=False,
        checkpoint_dir=tmp_path,
    )
    h = r.history
    assert r.stopped_early and len(h["epoch"]) < 30
    best = int(np.argmax(h["val_accuracy"])) + 1
    assert r.best_epoch == best
    assert len(h["epoch"]) == best + 2  # stopped after `patience` epochs without improvement
    # The returned params are the best epoch's, not the last ones.
    assert _eval(r.params, X_VA, Y_VA)["accuracy"] == max(h["val_accuracy"])
    assert math.isclose(_eval(r.state.params, X_VA, Y_VA)["accuracy"], h["val_accuracy"][-1])
    with Checkpointer(tmp_path) as c:
        assert c.latest_epoch() == len(h["epoch"])  # the stopping epoch is checkpointed


def test_binary_classification_and_regression_fit():
    xb, yb = X_TR, (DATA.y_train == 0).astype(np.int32)
    r = fit(
        funcnn.logistic_regression(4),
        Dataset(xb, yb, xb, yb, 2, "bin"),
        **{**TINY, "epochs": 5, "lr": 0.5},
    )
    assert r.config["loss"] == "binary_cross_entropy" and r.final["train_accuracy"] > 0.9
    w_true = np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)
    yr = X_TR @ w_true + 0.3
    r = fit(
        funcnn.linear_regression(4),
        Dataset(X_TR, yr, X_TR, yr, None, "reg"),
        **{**TINY, "epochs": 30, "lr": 0.1},
    )
    assert r.config["loss"] == "mse" and "test_accuracy" not in r.history
    np.testing.assert_allclose(r.params[0]["w"], w_true, atol=0.02)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(batch_size=0), ValueError, "batch_size must be a positive integer; got 0"),
        (dict(lr=0.0), ValueError, "lr must be a positive"),
        (dict(seed=-1), ValueError, "seed must be a non-negative integer"),
        (dict(resume=True), ValueError, "resume=True needs checkpoint_dir="),
        (
            dict(learning_rate=0.1),
            TypeError,
            r"fit got unexpected keyword arguments \['learning_rate'\]",
        ),
    ],
)
def test_fit_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fit(NET, DATA, **{**TINY, **kwargs})
