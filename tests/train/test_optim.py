"""funcnn.train.optim: schedules and optimizers by name, and the one optimizer builder of
fit and fit_seeds."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from funcnn.train import RunConfig, build_optimizer, make_optimizer, make_schedule
from funcnn.train.optim import weight_mask
from tests.train.tiny import close

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
    close(ours, ref, rtol=1e-6, atol=1e-7)
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
    close(ours, ref, rtol=1e-6, atol=1e-7)


def test_clip_norm_clips_the_global_norm():
    params = _toy_params()
    g = jax.tree.map(lambda p: 10.0 * jnp.ones_like(p), params)
    opt = make_optimizer("sgd", 1.0, clip_norm=1.0)
    updates, _ = opt.update(g, opt.init(params), params)
    assert math.isclose(float(optax.tree.norm(updates)), 1.0, rel_tol=1e-5)


def test_a_transform_is_used_as_is():
    p0 = _toy_params()
    close(_run(make_optimizer(optax.sgd(0.1)), p0), _run(optax.sgd(0.1), p0), rtol=1e-7)


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


# --- the builder of fit and fit_seeds -------------------------------------------------------


def test_build_optimizer_is_make_schedule_then_make_optimizer():
    p0 = _toy_params()
    opt, sched = build_optimizer(
        "adamw", lr=0.1, schedule="cosine", total_steps=10, weight_decay=0.1, clip_norm=1.0
    )
    by_hand = make_optimizer(
        "adamw", make_schedule("cosine", 0.1, total_steps=10), weight_decay=0.1, clip_norm=1.0
    )
    close(_run(opt, p0), _run(by_hand, p0), rtol=0, atol=0)
    assert float(sched(5)) == pytest.approx(0.05)
    transform, none = build_optimizer(optax.sgd(0.1), clip_norm=1.0)
    assert none is None
    close(
        _run(transform, p0), _run(optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1)), p0)
    )


@pytest.mark.parametrize("name", ["lr", "weight_decay", "momentum"])
def test_build_optimizer_takes_a_traced_hyperparameter_under_vmap(name):
    # fit_seeds builds one optimizer per grid value inside jax.vmap: the same updates as
    # building it with each value as a number.
    values = jnp.asarray([0.01, 0.3])
    base = dict(lr=0.1, schedule="inverse", weight_decay=0.1, momentum=0.5)
    params, grads = _toy_params(), _grads(0)

    def update(v):  # the second of two updates (the first does not depend on momentum)
        opt, _ = build_optimizer("momentum", **{**base, name: v})
        _, state = opt.update(grads, opt.init(params), params)
        return opt.update(grads, state, params)[0]

    stacked = jax.vmap(update)(values)
    for i, v in enumerate([0.01, 0.3]):
        one = jax.tree.map(lambda a, i=i: a[i], stacked)
        close(one, update(v), rtol=1e-6, atol=1e-7)
    assert not np.allclose(stacked[0]["w"][0], stacked[0]["w"][1])


def test_runs_that_differ_only_in_length_share_one_optimizer():
    # total_steps enters only the schedules that use it, so the cached optimizer (and the
    # compiled epoch keyed by it) is shared.
    short, long = RunConfig(epochs=2), RunConfig(epochs=9)
    assert short.optimizer_kwargs(6)["total_steps"] is None
    assert short.build_optimizer(6)[0] is long.build_optimizer(6)[0]
    cos = RunConfig(epochs=3, schedule="cosine")
    assert cos.optimizer_kwargs(6)["total_steps"] == 18
    assert cos.build_optimizer(6)[0] is not cos.replace(epochs=4).build_optimizer(6)[0]
    assert float(cos.build_optimizer(6)[1](9)) == pytest.approx(0.5e-3)
