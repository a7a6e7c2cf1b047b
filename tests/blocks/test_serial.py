"""Serial composition: construction errors, shapes, the parameter layout, keys, apply, config."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import gradcheck as gc
from funcnn.blocks import Act, Dense, Dropout, Serial, serial
from tests.helpers import VARIANTS, draws, once

NET = serial(Dense(4, 6), Act("tanh"), Dropout(0.5), Dense(6, 3))
INNER = serial(Dense(4, 5), Act("relu"), Dropout(0.2))
NESTED = serial(INNER, serial(Act("tanh"), Dropout(0.1), input_shape=(5,)), Dense(5, 2))


def _params(net, seed):
    """Non-zero parameters shaped like ``net.init``'s (no compile per initializer shape)."""
    return gc.nontrivial_params(net, draws(seed, jnp.float32))


def _key_data(k):
    return None if k is None else np.asarray(jax.random.key_data(k))


# --- construction -----------------------------------------------------------------------------


def test_construction_errors_name_the_block():
    with pytest.raises(ValueError, match="needs at least one block; got none"):
        serial()
    with pytest.raises(TypeError, match=r"blocks\[1\] must be a block .* got str"):
        serial(Dense(4, 6), "relu")
    with pytest.raises(ValueError, match="give input_shape= .* the first block Act does not fix"):
        serial(Act("relu"))
    with pytest.raises(ValueError, match=r"input_shape\[i\] must be a positive integer; got 0"):
        serial(Act("relu"), input_shape=(0,))
    with pytest.raises(
        ValueError,
        match=r"blocks\[2\] \(Dense\): Dense\(5, 3\) takes examples whose last axis has 5 "
        r"features; got shape \(6,\)",
    ):
        serial(Dense(4, 6), Act("relu"), Dense(5, 3))
    # A nested composition reports the outer index, then the inner one.
    with pytest.raises(ValueError, match=r"blocks\[1\] \(Serial\): blocks\[0\] \(Dense\)"):
        serial(Dense(4, 6), serial(Dense(5, 2)))


def test_shapes_and_flags():
    assert NET.shapes == ((4,), (6,), (6,), (6,), (3,))
    assert NET.input_shape == (4,) and NET.output_shape == (3,)
    assert NET.out_shape((7, 4)) == (7, 3)  # the protocol's shape map on another input
    assert NET.param_blocks == (Dense(4, 6), Dense(6, 3))
    assert (NET.has_params, NET.consumes_key, NET.stochastic) == (True, True, True)
    quiet = serial(Dense(4, 6), Dropout(0.0))
    assert (quiet.consumes_key, quiet.stochastic) == (True, False)
    no_params = serial(Act("relu"), input_shape=(3,))
    assert not no_params.has_params and no_params.output_shape == (3,)
    assert NESTED.shapes == ((4,), (5,), (5,), (2,))
    assert NET == serial(*NET.blocks) and hash(NET) == hash(serial(*NET.blocks))


# --- parameters -------------------------------------------------------------------------------


def test_one_slot_per_block_with_params_each_from_its_key(key):
    def both(key):
        blocks = [b.init(k) for b, k in zip(NET.param_blocks, jax.random.split(key, 2))]
        return NET.init(key), blocks

    params, blocks = once(both, key)
    assert len(params) == 2
    chex.assert_trees_all_equal(params, blocks)
    with pytest.raises(TypeError, match=r"key must be a jax.random.key\(seed\); got int"):
        NET.init(0)


def test_nested_layout_gives_a_nested_composition_one_slot(key):
    params, inner = once(lambda k: (NESTED.init(k), INNER.init(jax.random.split(k, 2)[0])), key)
    # INNER owns one slot (its own list); the parameter-free composition owns none.
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
        [[{"b": 0, "w": 0}], {"b": 0, "w": 0}]
    )
    chex.assert_trees_all_equal(params[0], inner)
    NESTED.check_params(params)
    with pytest.raises(ValueError, match=r"params\[0\]\[0\]\['w'\] must have shape \(4, 5\)"):
        NESTED.check_params([[{"w": jnp.ones((5, 4)), "b": jnp.ones(5)}], params[1]])
    with pytest.raises(
        ValueError,
        match=r"params must be a list of 2 entries, one per block with parameters "
        r"\(Serial, Dense\); got 1",
    ):
        NESTED.check_params(params[:1])
    with pytest.raises(ValueError, match="params must be a list of 2 entries.*got dict"):
        NESTED.check_params({"w": 1})


# --- keys -------------------------------------------------------------------------------------


def test_walk_gives_the_kth_key_consuming_block_fold_in_key_k(key):
    net = serial(
        Dense(4, 6), Dropout(0.5), Act("relu"), Dropout(0.0), Dense(6, 6), Dropout(0.3),
        Dense(6, 2),
    )  # fmt: skip
    params = jax.eval_shape(net.init, key)  # walk hands out the entries, whatever they hold
    steps = list(net.walk(params, key))
    assert [b for b, _, _ in steps] == list(net.blocks)
    slots = [p for b, p, _ in steps if b.has_params]
    assert len(slots) == 3 and all(p is q for p, q in zip(slots, params))
    assert all(p == () for b, p, _ in steps if not b.has_params)
    expected = [None, 0, None, 1, None, 2, None]  # k of fold_in(key, k), per block
    for (_, _, k), e in zip(steps, expected):
        want = None if e is None else _key_data(jax.random.fold_in(key, e))
        np.testing.assert_array_equal(_key_data(k), want)
    assert all(k is None for _, _, k in net.walk(params))  # no key: the evaluation pass


def test_nested_blocks_draw_from_their_composition_s_key(key):
    # NESTED's key-consuming blocks: INNER (k = 0), the parameter-free composition (k = 1).
    seen = []

    def record(b, p, x, k):
        if isinstance(b, Serial):
            return b.run(record, p, x, k)[0], None
        if isinstance(b, Dropout):
            seen.append(_key_data(k))
        return b.apply(p, x, key=k, train=True), None

    x = jnp.ones((3, 4))
    params = _params(NESTED, 1)
    out, _ = NESTED.run(record, params, x, key)
    fold = jax.random.fold_in
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], _key_data(fold(fold(key, 0), 0)))
    np.testing.assert_array_equal(seen[1], _key_data(fold(fold(key, 1), 0)))
    np.testing.assert_array_equal(out, NESTED.apply(params, x, key=key, train=True))


def test_a_deterministic_block_does_not_change_the_dropout_masks(key):
    plain = serial(Dense(4, 6), Dropout(0.5), Dense(6, 6), Dropout(0.5), Dense(6, 2))
    padded = serial(
        Dense(4, 6), Act("identity"), Dropout(0.5), Dense(6, 6), Act("identity"), Dropout(0.5),
        Dense(6, 2),
    )  # fmt: skip
    reserved = serial(
        Dense(4, 6), Dropout(0.0), Dropout(0.5), Dense(6, 6), Dropout(0.5), Dense(6, 2)
    )
    params = _params(plain, 2)
    x = draws(3, jnp.float32).normal((5, 4))
    drop = jax.random.fold_in(key, 2)

    def outputs(params, x, drop):
        return [net.apply(params, x, key=drop, train=True) for net in (plain, padded, reserved)]

    out_plain, out_padded, out_reserved = once(outputs, params, x, drop)
    np.testing.assert_array_equal(out_padded, out_plain)
    # Dropout(0.0) drops nothing but reserves key 0: every later mask moves to the next key.
    assert not np.allclose(out_reserved, out_plain)

    def dropout_keys(net):
        return [_key_data(k) for b, _, k in net.walk(params, drop) if isinstance(b, Dropout)]

    fold = [_key_data(jax.random.fold_in(drop, i)) for i in range(3)]
    np.testing.assert_array_equal(dropout_keys(plain), fold[:2])
    np.testing.assert_array_equal(dropout_keys(padded), fold[:2])
    np.testing.assert_array_equal(dropout_keys(reserved), fold)


# --- apply ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_apply_is_the_composition_written_out(variant, key):
    params = _params(NET, 4)
    x = draws(5, jnp.float32).normal((5, 4))
    drop = jax.random.fold_in(key, 2)

    def both(params, x, drop):
        return NET.apply(params, x, key=drop, train=True), NET(params, x)

    train, evaluation = variant(both)(params, x, drop)
    (w1, b1), (w2, b2) = ((np.asarray(p["w"]), np.asarray(p["b"])) for p in params)
    h = np.tanh(np.asarray(x) @ w1 + b1)
    mask = np.asarray(Dropout(0.5).mask(jax.random.fold_in(drop, 0), (5, 6)))
    np.testing.assert_allclose(train, (h * mask) @ w2 + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(evaluation, h @ w2 + b2, rtol=1e-5, atol=1e-6)


def test_examples_of_higher_rank(key):
    net = serial(Dense(3, 4), Act("relu"), input_shape=(5, 3))
    assert net.output_shape == (5, 4)
    params = _params(net, 6)
    x = draws(7, jnp.float32).normal((2, 5, 3))
    w, b = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    expected = np.maximum(np.einsum("bti,io->bto", np.asarray(x), w) + b, 0.0)
    np.testing.assert_allclose(net.apply(params, x), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 5, 3\) for this serial"):
        net.apply(params, jnp.ones((2, 4, 3)))


def test_apply_checks_params_inputs_and_keys():
    params = _params(NET, 8)
    with pytest.raises(
        ValueError, match=r"draws random numbers in training \(Dropout\(rate=0.5\)\)"
    ):
        NET.apply(params, jnp.ones((2, 4)), train=True)
    quiet = serial(Dense(4, 3), Dropout(0.0))
    quiet_params = _params(quiet, 9)
    np.testing.assert_array_equal(
        quiet.apply(quiet_params, jnp.ones((2, 4)), train=True),
        quiet.apply(quiet_params, jnp.ones((2, 4))),
    )
    with pytest.raises(ValueError, match=r"x must have rank 2 \(batch, 4\)"):
        NET.apply(params, jnp.ones(4))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 4\) for this serial; got"):
        NET.apply(params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="x is an empty batch"):
        NET.apply(params, jnp.ones((0, 4)))
    with pytest.raises(TypeError, match="x must have a floating dtype; got int32"):
        NET.apply(params, jnp.ones((2, 4), jnp.int32))
    with pytest.raises(ValueError, match=r"params\[1\]\['w'\] must have shape \(6, 3\)"):
        NET.apply([params[0], {"w": jnp.ones((3, 6)), "b": jnp.ones(3)}], jnp.ones((2, 4)))


def test_run_threads_the_input_and_collects_every_block_s_aux():
    params = _params(NET, 10)
    out, aux = NET.run(lambda b, p, x, k: (b.apply(p, x), x.shape), params, jnp.ones((2, 4)))
    assert aux == ((2, 4), (2, 6), (2, 6), (2, 6)) and out.shape == (2, 3)


# --- configuration ----------------------------------------------------------------------------


def test_to_config_describes_every_block_and_nests():
    net = serial(Dense(4, 6, "he_normal"), Act("relu"), Dropout(0.25), Dense(6, 3), kind="demo")
    config = net.to_config()
    assert config == {
        "kind": "demo",
        "input_shape": [4],
        "blocks": [
            {"type": "Dense", "n_in": 4, "n_out": 6, "initializer": "he_normal", "init_std": None},
            {"type": "Act", "name": "relu"},
            {"type": "Dropout", "rate": 0.25},
            {"type": "Dense", "n_in": 6, "n_out": 3, "initializer": "xavier_normal",
             "init_std": None},
        ],
    }  # fmt: skip
    assert json.loads(json.dumps(config)) == config
    nested = NESTED.to_config()
    assert nested["blocks"][0] == INNER.to_config()
    assert nested["blocks"][1] == {
        "kind": "serial",
        "input_shape": [5],
        "blocks": [{"type": "Act", "name": "tanh"}, {"type": "Dropout", "rate": 0.1}],
    }
    assert F.mlp([3, 4, 2], "relu").serial.to_config()["kind"] == "mlp"
