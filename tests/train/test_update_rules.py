"""The engine's update rules: funcnn's optimizers beside optax's (``optimizer_impl``),
per-layer learning rates (``layer_lr``) and the layer-wise update (``update="layerwise"``)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnn
from funcnn import layerwise as lw
from funcnn.train import (
    RunConfig,
    build_optimizer,
    fit,
    fit_seeds,
    init_state,
    make_objective,
    make_step_fn,
    make_train_step,
)
from funcnn.train.config import parse_layer_lr, resume_conflicts
from funcnn.train.state import init_params, seed_key
from tests.train.tiny import DATA, NET, TINY, X_TR, Y_TR, close, differ

LOSS = "softmax_cross_entropy"

# --- optimizer_impl: funcnn's optimizers in the engine --------------------------------------

# Settings where the conventions matter: AdamW with decay (the recipe), Adagrad (epsilon and
# the initial accumulator), Nesterov under a schedule (the form of momentum).
IMPL_CASES = {
    "adamw": dict(optimizer="adamw", lr=0.01, weight_decay=0.05),
    "adagrad": dict(optimizer="adagrad", lr=0.05),
    "nesterov, cosine": dict(optimizer="nesterov", lr=0.05, schedule="cosine"),
}


@pytest.mark.parametrize("case", IMPL_CASES)
def test_funcnn_under_optax_conventions_trains_as_optax(case):
    kw = {**TINY, **IMPL_CASES[case]}
    ours = fit(NET, DATA, **kw, optimizer_impl="funcnn", conventions="optax")
    theirs = fit(NET, DATA, **kw)
    assert ours.config["optimizer_impl"] == "funcnn" and theirs.config["conventions"] == "optax"
    close(ours.params, theirs.params, rtol=1e-5, atol=1e-6)  # float32 rounding only
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)
    first, _ = init_params(NET, seed_key(0))
    assert differ(theirs.params, first)  # and training moved the params


@pytest.mark.parametrize("case", ["adagrad", "nesterov, cosine"])
def test_the_papers_conventions_train_differently(case):
    kw = {**TINY, **IMPL_CASES[case]}
    paper = fit(NET, DATA, **kw, optimizer_impl="funcnn")
    assert paper.config["conventions"] == "paper"
    assert differ(paper.params, fit(NET, DATA, **kw).params)


def test_adam_is_the_same_algorithm_in_both_conventions():
    kw = {**TINY, **IMPL_CASES["adamw"]}
    paper = fit(NET, DATA, **kw, optimizer_impl="funcnn")
    close(paper.params, fit(NET, DATA, **kw, optimizer_impl="funcnn", conventions="optax").params)


# --- layer_lr: alpha_j^(k) = c_j eta_k ---------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.05}])
def test_layer_lr_of_ones_is_the_default_bitwise(kw):
    default = fit(NET, DATA, **{**TINY, **kw})
    ones = fit(NET, DATA, **{**TINY, **kw}, layer_lr=(1, 1.0))
    assert ones.config["layer_lr"] == [1.0, 1.0]  # recorded as JSON
    chex.assert_trees_all_equal(ones.params, default.params)
    assert ones.history["loss"] == default.history["loss"]


@pytest.mark.parametrize("update", ["simultaneous", "layerwise"])
def test_a_zero_multiplier_freezes_its_layer(update):
    kw = dict(TINY, optimizer="adamw", weight_decay=0.1)  # decay would move it too
    r = fit(NET, DATA, **kw, layer_lr=(0.0, 1.0), update=update)
    first, _ = init_params(NET, seed_key(0))
    chex.assert_trees_all_equal(r.params[0], first[0])
    assert differ(r.params[1], first[1])


def test_layer_lr_halves_a_layers_first_sgd_step():
    params, _ = init_params(NET, seed_key(0))
    grads = jax.tree.map(jnp.ones_like, params)
    opt, _ = build_optimizer("sgd", lr=0.1, layer_lr=(0.5, 2.0))
    updates, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(updates[0]["w"], -0.05)
    np.testing.assert_allclose(updates[1]["b"], -0.2)


# --- update="layerwise": (u.2) as block coordinate descent ------------------------------------

NET2 = funcnn.mlp([4, 5, 3], "tanh")  # two layers, no dropout: the gradient is deterministic


def _batch(dtype):
    return jnp.asarray(X_TR[:8], dtype), jnp.asarray(Y_TR[:8])


def test_layerwise_step_is_the_hand_written_sequence_of_block_updates():
    """Two steps of SGD with alpha = (0.1 * 1, 0.1 * 0.5), input layer first, each block's
    gradient taken after the block before it moved, in float64."""
    with jax.enable_x64(True):
        x, y = _batch(jnp.float64)
        opt, _ = build_optimizer("sgd", lr=0.1, layer_lr=(1.0, 0.5), by_block=True)
        state = init_state(NET2, opt, jax.random.key(0), jnp.float64)
        p = jax.tree.map(jnp.copy, state.params)
        step = jax.jit(make_step_fn(NET2, LOSS, opt, update="layerwise"))
        for _ in range(2):
            state, metrics = step(state, (x, y))
        grad = jax.grad(make_objective(NET2, LOSS))
        for _ in range(2):
            w1 = jax.tree.map(lambda a, g: a - 0.1 * g, p[0], grad(p, x, y)[0])  # W_1 first
            p = [w1, p[1]]
            w2 = jax.tree.map(lambda a, g: a - 0.05 * g, p[1], grad(p, x, y)[1])  # then W_2
            p = [p[0], w2]
        chex.assert_trees_all_close(state.params, p, rtol=0, atol=1e-14)
        # The same as funcnn.layerwise's plain sweep, and not the simultaneous update (u.1).
        q = init_state(NET2, opt, jax.random.key(0), jnp.float64).params
        g_fn = lambda params: grad(params, x, y)  # noqa: E731
        for _ in range(2):
            q = lw.layerwise_sweep(g_fn, q, [0.1, 0.05])
        chex.assert_trees_all_close(state.params, q, rtol=0, atol=1e-14)
        sim = init_state(NET2, opt, jax.random.key(0), jnp.float64)
        sim_step = jax.jit(make_step_fn(NET2, LOSS, opt))
        for _ in range(2):
            sim, _ = sim_step(sim, (x, y))
        assert differ(sim.params, state.params)
        assert int(state.step) == 2 and np.isfinite(float(metrics["loss"]))


def test_layerwise_keeps_one_optimizer_state_per_layer():
    """Adam on each block apart: its moments and count advance once per step and block."""
    with jax.enable_x64(True):
        x, y = _batch(jnp.float64)
        opt, _ = build_optimizer("adam", lr=0.01, by_block=True)
        state = init_state(NET2, opt, jax.random.key(1), jnp.float64)
        p = jax.tree.map(jnp.copy, state.params)
        step = make_train_step(NET2, LOSS, opt, update="layerwise")
        for _ in range(3):
            state, _ = step(state, (x, y))
        adam = optax.chain(optax.scale_by_adam(), optax.scale_by_learning_rate(0.01))
        states = [adam.init(b) for b in p]
        grad = jax.grad(make_objective(NET2, LOSS))
        for _ in range(3):
            for j in range(2):
                u, states[j] = adam.update(grad(p, x, y)[j], states[j], p[j])
                p = [optax.apply_updates(b, u) if i == j else b for i, b in enumerate(p)]
        chex.assert_trees_all_close(state.params, p, rtol=0, atol=1e-13)
        for j in range(2):
            assert int(state.opt_state.blocks[j][0].count) == 3


def test_layerwise_fit_learns_and_fit_seeds_runs_it():
    kw = dict(TINY, update="layerwise", layer_lr=(1.0, 0.5))
    r = fit(NET, DATA, **kw)
    assert r.config["update"] == "layerwise"
    assert r.history["train_loss"][-1] < r.history["train_loss"][0]
    assert differ(r.params, fit(NET, DATA, **TINY, layer_lr=(1.0, 0.5)).params)
    many = fit_seeds(NET, DATA, **kw, seeds=[0, 1])
    close(jax.tree.map(lambda a: a[0], many.params), r.params)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,error,match",
    [
        ({"optimizer_impl": "jax"}, ValueError, "unknown optimizer_impl 'jax'; valid names"),
        ({"conventions": "pytorch"}, ValueError, "unknown conventions 'pytorch'"),
        ({"conventions": "paper"}, ValueError, "conventions='paper' needs optimizer_impl='funcnn'"),
        (
            {"optimizer_impl": "funcnn", "optimizer": optax.sgd(0.1)},
            ValueError,
            "optimizer_impl='funcnn' builds a named optimizer",
        ),
        (
            {"optimizer_impl": "funcnn", "optimizer": "momentum", "momentum": 1.5},
            ValueError,
            r"momentum must be a decay rate in \[0, 1\); got 1.5",
        ),
        ({"layer_lr": (1.0, -0.5)}, ValueError, r"layer_lr\[1\] must be a finite number >= 0"),
        ({"layer_lr": (1.0, float("nan"))}, ValueError, r"layer_lr\[1\] must be a finite"),
        ({"layer_lr": "1,0.5"}, TypeError, "layer_lr must be a sequence of numbers"),
        ({"layer_lr": ()}, ValueError, "layer_lr must not be empty"),
        ({"layer_lr": (1.0, True)}, TypeError, r"layer_lr\[1\] must be a number"),
        ({"update": "blockwise"}, ValueError, "unknown update 'blockwise'; valid names are"),
    ],
)
def test_bad_settings_name_the_field(options, error, match):
    with pytest.raises(error, match=match):
        if options.get("momentum"):  # checked where funcnn's optimizer is built
            RunConfig(**options).build_optimizer(6)
        else:
            RunConfig(**options)


@pytest.mark.parametrize("update", ["simultaneous", "layerwise"])
def test_layer_lr_of_the_wrong_length_names_the_model(update):
    match = r"layer_lr has 3 entries but the model's params list has 2 \(params\[0\] .. params\[1\]"
    with pytest.raises(ValueError, match=match):
        fit(NET, DATA, **TINY, layer_lr=(1.0, 1.0, 1.0), update=update)


def test_a_layerwise_step_needs_a_state_per_layer():
    opt, _ = build_optimizer("sgd", lr=0.1)
    with pytest.raises(TypeError, match="needs one optimizer state per layer.*by_block"):
        make_step_fn(NET2, LOSS, opt, update="layerwise")
    with pytest.raises(TypeError, match="by_block needs params as a list"):
        lw.by_block(optax.sgd(0.1)).init({"w": jnp.zeros(2)})


def test_parse_layer_lr():
    assert parse_layer_lr("1,0.5, 0") == (1.0, 0.5, 0.0) and parse_layer_lr("none") is None
    with pytest.raises(ValueError, match="layer_lr must be comma-separated numbers.*got '1,x'"):
        parse_layer_lr("1,x")


def test_runs_saved_before_these_fields_resume_with_their_defaults():
    saved = RunConfig().to_dict()
    for name in ("optimizer_impl", "conventions", "layer_lr", "update"):
        del saved[name]
    assert resume_conflicts(saved, RunConfig().to_dict()) == []
    conflicts = resume_conflicts(saved, RunConfig(update="layerwise").to_dict())
    assert conflicts == ["update: saved 'simultaneous', now 'layerwise'"]
