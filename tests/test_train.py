"""Tests of funcnn.train: schedules, optimizers, steps, epochs, fit, fit_seeds, bad input.

Every training test uses one tiny configuration (a 4-8-3 MLP on 48 points) so the compiled
epochs are shared across tests through the caches of ``make_epoch``/``build_optimizer``.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnn
from funcnn.data import Dataset
from funcnn.train import (
    NonFiniteLossError,
    evaluate,
    fit,
    init_state,
    make_epoch,
    make_optimizer,
    make_schedule,
    make_train_step,
    shuffle_key,
)
from funcnn.train.optim import weight_mask
from funcnn.train.seeds import fit_seeds, stack_runs
from funcnn.train.step import epoch_batches

# --- a tiny 3-class problem ------------------------------------------------------------------


def _blobs(seed, n, d=4, q=3):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]], np.float32)[:, :d]
    y = rng.integers(0, q, n).astype(np.int32)
    x = centers[y] + rng.normal(0, 0.7, (n, d)).astype(np.float32)
    return x.astype(np.float32), y


X_TR, Y_TR = _blobs(0, 48)
X_VA, Y_VA = _blobs(1, 24)
X_TE, Y_TE = _blobs(2, 24)
DATA = Dataset(X_TR, Y_TR, X_TE, Y_TE, 3, "blobs3")
DATA_VAL = Dataset(X_TR, Y_TR, X_TE, Y_TE, 3, "blobs3", X_VA, Y_VA)
NET = funcnn.mlp([4, 8, 3], "tanh", dropout=0.25)
TINY = dict(epochs=3, batch_size=8, progress=False, lr=0.05, optimizer="sgd")


def _close(a, b, **tol):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


# --- schedules ------------------------------------------------------------------------------

# (name, lr, options, step, expected) — the documented value at a chosen step.
SCHEDULE_TABLE = [
    ("constant", 0.1, {}, 0, 0.1),
    ("constant", 0.1, {}, 1000, 0.1),
    ("inverse", 0.1, {}, 0, 0.1),
    ("inverse", 0.1, {}, 9, 0.01),  # lr / (1 + k)
    ("inverse", 0.1, {"transition_steps": 10}, 10, 0.05),  # lr / (1 + k / 10)
    ("inverse_sqrt", 0.1, {}, 3, 0.05),  # lr / sqrt(1 + 3)
    ("inverse_sqrt", 0.1, {}, 99, 0.01),
    ("exponential", 0.1, {"transition_steps": 10}, 20, 0.025),  # 0.1 * 0.5^2
    ("exponential", 0.1, {"total_steps": 100}, 25, 0.05),  # transition = total / 4
    ("exponential", 0.1, {"transition_steps": 10, "decay_rate": 0.1}, 10, 0.01),
    ("cosine", 0.1, {"total_steps": 100}, 0, 0.1),
    ("cosine", 0.1, {"total_steps": 100}, 50, 0.05),
    ("cosine", 0.1, {"total_steps": 100}, 100, 0.0),
    ("warmup_cosine", 0.1, {"total_steps": 110, "warmup_steps": 10}, 0, 0.0),
    ("warmup_cosine", 0.1, {"total_steps": 110, "warmup_steps": 10}, 5, 0.05),
    ("warmup_cosine", 0.1, {"total_steps": 110, "warmup_steps": 10}, 10, 0.1),
    ("warmup_cosine", 0.1, {"total_steps": 110, "warmup_steps": 10}, 60, 0.05),
    ("warmup_cosine", 0.1, {"total_steps": 100}, 5, 0.1),  # default warm-up 5% = 5 steps
    ("constant", 0.1, {"warmup_steps": 4}, 1, 0.025),  # warm-up prepended to any schedule
    ("cosine", 0.1, {"total_steps": 104, "warmup_steps": 4}, 54, 0.05),
]


@pytest.mark.parametrize("name,lr,opts,k,expected", SCHEDULE_TABLE)
def test_schedule_values(name, lr, opts, k, expected):
    got = float(make_schedule(name, lr, **opts)(k))
    assert math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-7), (name, k, got)


def test_schedule_1_over_k_of_the_lecture():
    # The lecture's alpha_k = 1/k and 1/sqrt(k) for k = 1, 2, ...: our k counts from 0.
    inv, inv_sqrt = make_schedule("inverse", 1.0), make_schedule("inverse_sqrt", 1.0)
    for k in (1, 2, 5, 100):
        assert math.isclose(float(inv(k - 1)), 1 / k, rel_tol=1e-6)
        assert math.isclose(float(inv_sqrt(k - 1)), 1 / math.sqrt(k), rel_tol=1e-6)


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        (("linear", 0.1), {}, "unknown schedule 'linear'; valid names are: constant, cosine"),
        (("cosine", 0.1), {}, 'schedule "cosine" needs total_steps='),
        (("warmup_cosine", 0.1), {}, "needs total_steps="),
        (("exponential", 0.1), {}, "needs total_steps="),
        (("constant", 0.0), {}, "lr must be a positive, finite learning rate; got 0.0"),
        (("constant", -1.0), {}, "lr must be a positive"),
        (("constant", float("nan")), {}, "lr must be a positive"),
        (("constant", 0.1), {"warmup_steps": -1}, "warmup_steps must be a non-negative integer"),
        (("cosine", 0.1), {"total_steps": 0}, "total_steps must be a positive integer"),
        (("cosine", 0.1), {"total_steps": 10, "warmup_steps": 10}, "must be smaller than"),
        (("exponential", 0.1), {"transition_steps": 5, "decay_rate": 0.0}, "decay_rate must be"),
    ],
)
def test_schedule_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_schedule(*args, **kwargs)


# --- optimizers -----------------------------------------------------------------------------


def _toy_params(key=0):
    k1, k2, k3 = jax.random.split(jax.random.key(key), 3)
    return [
        {"w": jax.random.normal(k1, (3, 4)), "b": jax.random.normal(k2, (4,))},
        {"w": jax.random.normal(k3, (4, 2)), "b": jnp.ones((2,))},
    ]


def _grads(i):
    return jax.tree.map(lambda p: jnp.sin(p * (i + 1.0)) + 0.1 * i, _toy_params(7))


def _run(opt, params, n=3):
    state = opt.init(params)
    for i in range(n):
        updates, state = opt.update(_grads(i), state, params)
        params = optax.apply_updates(params, updates)
    return params


OPTAX_EQUIVALENTS = {
    "sgd": lambda lr: optax.sgd(lr),
    "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "nesterov": lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    "adam": lambda lr: optax.adam(lr),
    "adamw": lambda lr: optax.adam(lr),  # weight_decay 0: adamw is adam
    "adagrad": lambda lr: optax.adagrad(lr),
    "rmsprop": lambda lr: optax.rmsprop(lr),
}


@pytest.mark.parametrize("name", sorted(OPTAX_EQUIVALENTS))
def test_named_optimizers_match_optax(name):
    p0 = _toy_params()
    ours = _run(make_optimizer(name, 0.01), p0)
    ref = _run(OPTAX_EQUIVALENTS[name](0.01), p0)
    _close(ours, ref, rtol=1e-6, atol=1e-7)
    # and it moved
    assert not np.allclose(np.asarray(ours[0]["w"]), np.asarray(p0[0]["w"]))


def test_decoupled_weight_decay_is_the_digests_formula():
    # w <- (1 - eta lambda) w - eta g on weights; b <- b - eta g on biases (one SGD step).
    eta, lam = 0.1, 0.3
    params, g = _toy_params(), _grads(0)
    opt = make_optimizer("sgd", eta, weight_decay=lam)
    updates, _ = opt.update(g, opt.init(params), params)
    new = optax.apply_updates(params, updates)
    for layer, gl, nl in zip(params, g, new):
        np.testing.assert_allclose(
            nl["w"], (1 - eta * lam) * layer["w"] - eta * gl["w"], rtol=1e-6, atol=1e-7
        )
        np.testing.assert_allclose(nl["b"], layer["b"] - eta * gl["b"], rtol=1e-6, atol=1e-7)


def test_decoupled_weight_decay_uses_the_scheduled_rate():
    # At step k the factor is (1 - eta_k lambda), eta_k from the schedule.
    lam, sched = 0.5, make_schedule("inverse", 0.2)
    params = _toy_params()
    opt = make_optimizer("sgd", sched, weight_decay=lam)
    state = opt.init(params)
    zero = jax.tree.map(jnp.zeros_like, params)
    for _ in range(2):  # after k = 0 and k = 1: factors (1 - 0.2 lam) and (1 - 0.1 lam)
        updates, state = opt.update(zero, state, params)
        params = optax.apply_updates(params, updates)
    expected = (1 - 0.2 * lam) * (1 - 0.1 * lam) * _toy_params()[0]["w"]
    np.testing.assert_allclose(params[0]["w"], expected, rtol=1e-6)
    np.testing.assert_allclose(params[0]["b"], _toy_params()[0]["b"], rtol=0)


def test_adamw_matches_optax_adamw_with_the_weights_mask():
    p0 = _toy_params()
    ours = _run(make_optimizer("adamw", 1e-2, weight_decay=0.1), p0)
    ref = _run(optax.adamw(1e-2, weight_decay=0.1, mask=weight_mask), p0)
    _close(ours, ref, rtol=1e-6, atol=1e-7)


def test_clip_norm_clips_the_global_norm():
    params = _toy_params()
    g = jax.tree.map(lambda p: 10.0 * jnp.ones_like(p), params)
    opt = make_optimizer("sgd", 1.0, clip_norm=1.0)
    updates, _ = opt.update(g, opt.init(params), params)
    assert math.isclose(float(optax.tree.norm(updates)), 1.0, rel_tol=1e-5)


def test_a_transform_is_used_as_is():
    p0 = _toy_params()
    _close(_run(make_optimizer(optax.sgd(0.1)), p0), _run(optax.sgd(0.1), p0), rtol=1e-7)


@pytest.mark.parametrize(
    "args,kwargs,exc,match",
    [
        (("adamax", 0.1), {}, ValueError, "unknown optimizer 'adamax'; valid names are: adagrad"),
        (("adam",), {}, ValueError, 'optimizer "adam" needs a learning_rate'),
        (("adam", -0.1), {}, ValueError, "learning_rate must be a positive"),
        (("adam", "0.1"), {}, TypeError, "learning_rate must be a positive number or a schedule"),
        (
            ("sgd", 0.1),
            {"weight_decay": -1.0},
            ValueError,
            "weight_decay must be a finite number >= 0",
        ),
        (("sgd", 0.1), {"clip_norm": 0.0}, ValueError, "clip_norm must be > 0"),
        (
            ("adam", 0.1),
            {"beta1": 0.5},
            TypeError,
            r"unknown options \['beta1'\]; valid options: b1",
        ),
        ((optax.sgd(0.1), 0.1), {}, ValueError, "learning_rate must be None when passing"),
        ((3, 0.1), {}, TypeError, "optimizer must be a name or an optax.GradientTransformation"),
    ],
)
def test_optimizer_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_optimizer(*args, **kwargs)


# --- steps and epochs -----------------------------------------------------------------------

OPT = make_optimizer("sgd", 0.05)


def test_grad_norm_metric_can_be_switched_off_without_changing_the_update():
    with_norm = make_train_step(NET, "softmax_cross_entropy", OPT)
    lean = make_train_step(NET, "softmax_cross_entropy", OPT, grad_norm=False)
    batch = (jnp.asarray(X_TR[:8]), jnp.asarray(Y_TR[:8]))
    s1, m1 = with_norm(init_state(NET, OPT, jax.random.key(5)), batch)
    s2, m2 = lean(init_state(NET, OPT, jax.random.key(5)), batch)
    assert set(m1) == {"loss", "grad_norm"} and set(m2) == {"loss"}
    assert float(m1["grad_norm"]) > 0
    assert float(m1["loss"]) == float(m2["loss"])
    _close(s1.params, s2.params, rtol=0, atol=0)


def test_train_step_compiles_once_and_epoch_equals_the_step_loop():
    step = make_train_step(NET, "softmax_cross_entropy", OPT)
    assert make_train_step(NET, "softmax_cross_entropy", OPT) is step  # cached
    epoch = make_epoch(NET, "softmax_cross_entropy", OPT, batch_size=8)
    x, y = jnp.asarray(X_TR), jnp.asarray(Y_TR)

    # A Python loop over the jitted step, fed the batches the scanned epoch draws.
    s_loop = init_state(NET, OPT, jax.random.key(3))
    losses = []
    for e in range(2):
        xb, yb = epoch_batches(shuffle_key(s_loop.key, e), x, y, 8)
        for i in range(xb.shape[0]):
            s_loop, m = step(s_loop, (xb[i], yb[i]))
            losses.append(float(m["loss"]))
    assert step.trace_count() == 1  # 12 calls, new state each time: no retrace

    s_scan = init_state(NET, OPT, jax.random.key(3))
    scan_losses = []
    for _ in range(2):
        s_scan, m = epoch(s_scan, x, y)
        scan_losses.extend(np.asarray(m["loss"]).tolist())
    assert epoch.trace_count() == 1
    assert int(s_scan.step) == int(s_loop.step) == 12
    np.testing.assert_allclose(scan_losses, losses, rtol=1e-5)
    _close(s_scan.params, s_loop.params, rtol=1e-5, atol=1e-6)


def test_state_is_donated():
    step = make_train_step(NET, "softmax_cross_entropy", OPT)
    s = init_state(NET, OPT, jax.random.key(0))
    w = s.params[0]["w"]
    step(s, (jnp.asarray(X_TR[:8]), jnp.asarray(Y_TR[:8])))
    assert w.is_deleted()


def test_evaluate_accuracy_and_loss():
    net = funcnn.softmax_regression(2, 3)
    params = [{"w": jnp.eye(2, 3), "b": jnp.zeros(3)}]  # logits = (x0, x1, 0)
    x = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    y = jnp.array([0, 1, 2, 1])  # the last one is wrong
    m = evaluate(net, params, x, y, "softmax_cross_entropy")
    assert float(m["accuracy"]) == 0.75
    expected = funcnn.softmax_cross_entropy(x @ params[0]["w"], y)
    np.testing.assert_allclose(m["loss"], expected, rtol=1e-6)
    net1 = funcnn.logistic_regression(2)
    p1 = [{"w": jnp.array([[1.0], [0.0]]), "b": jnp.zeros(1)}]
    m1 = evaluate(net1, p1, x, jnp.array([[1.0], [0.0], [0.0], [0.0]]), "binary_cross_entropy")
    assert float(m1["accuracy"]) == 0.75


# --- fit ------------------------------------------------------------------------------------


def test_fit_learns_and_records_history():
    r = fit(NET, DATA, epochs=8, batch_size=8, lr=0.1, optimizer="momentum", progress=False)
    h = r.history
    assert h["epoch"] == list(range(1, 9))
    for k in (
        "loss",
        "grad_norm",
        "lr",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "time_s",
    ):
        assert len(h[k]) == 8, k
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert r.final["test_accuracy"] >= 0.9
    assert int(r.state.step) == 8 * (48 // 8)
    assert r.config["loss"] == "softmax_cross_entropy" and r.wall_time_s > 0


def test_manual_and_autodiff_training_agree():
    kw = dict(TINY, l2=1e-2, l1=1e-3, weight_decay=0.1)
    a = fit(NET, DATA, grad="autodiff", **kw)
    m = fit(NET, DATA, grad="manual", **kw)
    _close(a.params, m.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.history["loss"], m.history["loss"], rtol=1e-5)


def test_manual_and_autodiff_steps_agree_in_float64():
    with jax.enable_x64(True):
        opt = make_optimizer("adam", 0.01)
        x, y = jnp.asarray(X_TR[:8], jnp.float64), jnp.asarray(Y_TR[:8])
        states = []
        for grad in ("autodiff", "manual"):
            step = make_train_step(NET, "softmax_cross_entropy", opt, grad=grad, l2=1e-2)
            s = init_state(NET, opt, jax.random.key(1), jnp.float64)
            for _ in range(3):  # dropout on: both draw the masks of dropout_key(key, step)
                s, _ = step(s, (x, y))
            states.append(s)
        assert states[0].params[0]["w"].dtype == jnp.float64
        _close(states[0].params, states[1].params, rtol=1e-12, atol=1e-14)


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
    _close(many.params, stack_runs(single), rtol=1e-5, atol=1e-6)
    assert many.history["test_accuracy"].shape == (4, 3)
    for i, s in enumerate(single):
        np.testing.assert_allclose(many.history["loss"][i], s.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(
            many.history["test_accuracy"][i], s.history["test_accuracy"], rtol=1e-6
        )
    # Different seeds really differ.
    assert not np.allclose(np.asarray(many.params[0]["w"][0]), np.asarray(many.params[0]["w"][1]))


def test_fit_seeds_with_a_shared_data_order_equals_separate_runs():
    kw = dict(TINY, epochs=2, data_seed=7)
    many = fit_seeds(NET, DATA, [0, 1], **kw)
    single = [fit(NET, DATA, seed=s, **kw) for s in (0, 1)]
    _close(many.params, stack_runs(single), rtol=1e-5, atol=1e-6)
    # the data order is not the seed's: it differs from the default run of seed 0
    own = fit(NET, DATA, seed=0, **{**kw, "data_seed": None})
    assert not np.allclose(np.asarray(own.params[0]["w"]), np.asarray(single[0].params[0]["w"]))


def test_permutation_is_a_uniform_permutation():
    from funcnn.data import _permutation_rounds, permutation

    perms = np.asarray(
        jax.jit(jax.vmap(lambda k: permutation(k, 4)))(jax.random.split(jax.random.key(0), 4800))
    )
    assert all(sorted(p) == [0, 1, 2, 3] for p in perms)
    # all 24 orders equally likely: chi-square with 23 degrees of freedom (p = 0.001: 49.7)
    _, counts = np.unique(perms, axis=0, return_counts=True)
    assert len(counts) == 24
    assert np.sum((counts - 200.0) ** 2 / 200.0) < 49.7
    big = np.asarray(permutation(jax.random.key(1), 5000))
    assert np.array_equal(np.sort(big), np.arange(5000))
    assert [_permutation_rounds(n) for n in (10, 1000, 60000)] == [1, 2, 3]
    with pytest.raises(ValueError, match="n must be a positive integer"):
        permutation(jax.random.key(0), 0)


def test_fit_seeds_grid_over_a_penalty_with_manual_gradients():
    # A traced l2 (the grid under vmap) goes straight into funcnn.backprop: same result.
    kw = dict(TINY, epochs=2, grid=("l2", [0.0, 0.1]))
    manual = fit_seeds(NET, DATA, [3], grad="manual", **kw)
    auto = fit_seeds(NET, DATA, [3], grad="autodiff", **kw)
    _close(manual.params, auto.params, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(auto.params[0]["w"][0]), np.asarray(auto.params[0]["w"][1]))


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
            optimizer=opt,
            epochs=6,
            batch_size=8,
            progress=False,
            checkpoint_dir=ckpt,
            checkpoint_every=1,
        )
    e = info.value
    assert e.epoch == 3 and 13 < e.step <= 18
    msg = str(e)
    assert f"at epoch 3, step {e.step}" in msg
    assert "the last good checkpoint (epoch 2)" in msg and "is intact" in msg
    assert len(e.history["epoch"]) == 2
    from funcnn.train import Checkpointer

    with Checkpointer(ckpt) as c:
        assert c.latest_epoch() == 2
        like = init_state(NET, opt, jax.random.key(0))
        state, meta = c.restore(like)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(state.params))
    assert int(state.step) == 12 and meta["epoch"] == 2


def test_early_stopping_returns_the_best_epoch():
    r = fit(
        NET,
        DATA_VAL,
        epochs=30,
        batch_size=8,
        lr=0.5,
        optimizer="momentum",
        early_stopping_patience=2,
        progress=False,
    )
    h = r.history
    assert r.stopped_early and len(h["epoch"]) < 30
    best = int(np.argmax(h["val_accuracy"])) + 1
    assert r.best_epoch == best
    assert len(h["epoch"]) == best + 2  # stopped after `patience` epochs without improvement
    # The returned params are the best epoch's: their validation accuracy is the best one.
    m = evaluate(NET, r.params, jnp.asarray(X_VA), jnp.asarray(Y_VA), "softmax_cross_entropy")
    assert math.isclose(float(m["accuracy"]), max(h["val_accuracy"]), rel_tol=1e-6)


def test_loss_inference():
    from funcnn.train import infer_loss

    assert infer_loss(NET, 3) == "softmax_cross_entropy"
    assert infer_loss(funcnn.logistic_regression(4), 2) == "binary_cross_entropy"
    assert infer_loss(funcnn.linear_regression(4), None) == "mse"
    with pytest.raises(ValueError, match="cannot be trained by gradient descent"):
        infer_loss(funcnn.perceptron(4), 2)
    with pytest.raises(ValueError, match="the model has 3 outputs but the dataset has 5 classes"):
        infer_loss(NET, 5)


def test_binary_classification_and_regression_fit():
    xb, yb = X_TR, (Y_TR == 0).astype(np.int32)
    r = fit(
        funcnn.logistic_regression(4),
        Dataset(xb, yb, xb, yb, 2, "bin"),
        epochs=5,
        batch_size=8,
        lr=0.5,
        optimizer="sgd",
        progress=False,
    )
    assert r.config["loss"] == "binary_cross_entropy" and r.final["train_accuracy"] > 0.9
    w_true = np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)
    yr = X_TR @ w_true + 0.3
    r = fit(
        funcnn.linear_regression(4),
        Dataset(X_TR, yr, X_TR, yr, None, "reg"),
        epochs=30,
        batch_size=8,
        lr=0.1,
        optimizer="sgd",
        progress=False,
    )
    assert r.config["loss"] == "mse" and "test_accuracy" not in r.history
    np.testing.assert_allclose(r.params[0]["w"], w_true, atol=0.02)


BAD_FIT = [
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer; got 0"),
    (
        dict(batch_size=49),
        ValueError,
        r"batch_size \(49\) must be at most the training set size \(48\)",
    ),
    (dict(epochs=0), ValueError, "epochs must be a positive integer"),
    (dict(grad="numeric"), ValueError, "unknown grad 'numeric'; valid names are: autodiff, manual"),
    (dict(loss="hinge"), ValueError, "unknown loss 'hinge'"),
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'"),
    (dict(schedule="step"), ValueError, "unknown schedule 'step'"),
    (dict(lr=0.0), ValueError, "lr must be a positive"),
    (dict(l2=-1.0), ValueError, "l2 must be a finite number >= 0"),
    (dict(seed=-1), ValueError, "seed must be a non-negative integer"),
    (dict(resume=True), ValueError, "resume=True needs checkpoint_dir="),
    (dict(early_stopping_patience=3), ValueError, "early_stopping_patience needs a validation set"),
    (dict(early_stopping_patience=0), ValueError, "early_stopping_patience must be a positive"),
    (dict(checkpoint_every=0), ValueError, "checkpoint_every must be a positive integer"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD_FIT)
def test_fit_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fit(NET, DATA, **{**TINY, **kwargs})


@pytest.mark.parametrize(
    "data,model,exc,match",
    [
        (
            Dataset(X_TR, Y_TR[:40], X_TE, Y_TE, 3, "b"),
            NET,
            ValueError,
            "x_train and y_train must have the same length; got 48 and 40",
        ),
        (DATA, funcnn.mlp([5, 8, 3]), ValueError, r"x_train must have shape \(n, 5\)"),
        (
            Dataset(X_TR, Y_TR + 5, X_TE, Y_TE, 3, "b"),
            NET,
            ValueError,
            r"y_train must lie in \[0, 2\]",
        ),
        (
            Dataset(X_TR, Y_TR.astype(np.float32), X_TE, Y_TE, 3, "b"),
            NET,
            TypeError,
            "y_train must hold integer class labels",
        ),
        (
            Dataset(np.full_like(X_TR, np.nan), Y_TR, X_TE, Y_TE, 3, "b"),
            NET,
            ValueError,
            "x_train contains NaN",
        ),
        ((X_TR, Y_TR), NET, TypeError, "dataset must be a funcnn.data.Dataset"),
        ("no_such_set", NET, ValueError, "unknown dataset"),
    ],
)
def test_fit_bad_data(data, model, exc, match):
    with pytest.raises(exc, match=match):
        fit(model, data, **TINY)


def test_fit_seeds_bad_arguments():
    with pytest.raises(ValueError, match="seeds must not be empty"):
        fit_seeds(NET, DATA, [], **TINY)
    with pytest.raises(ValueError, match="unknown grid hyperparameter 'dropout'"):
        fit_seeds(NET, DATA, [0], grid=("dropout", [0.1]), **TINY)
    with pytest.raises(TypeError, match=r"grid must be a pair \(name, values\)"):
        fit_seeds(NET, DATA, [0], grid=("lr",), **TINY)
    with pytest.raises(ValueError, match="grid value lr=0.0 must be finite and > 0"):
        fit_seeds(NET, DATA, [0], grid=("lr", [0.0]), **TINY)
    with pytest.raises(ValueError, match="fit_seeds does not support mesh="):
        fit_seeds(NET, DATA, [0], mesh=None, **TINY)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        fit_seeds(NET, DATA, [0, -2], **TINY)


def test_checkpoint_dir_of_another_run_is_not_overwritten(tmp_path):
    fit(NET, DATA, **{**TINY, "epochs": 1}, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        fit(NET, DATA, **{**TINY, "epochs": 1}, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"different configuration \(lr: saved 0.05, now 0.1\)"):
        fit(NET, DATA, **{**TINY, "epochs": 1, "lr": 0.1}, checkpoint_dir=tmp_path, resume=True)
