"""funcnn.gradcheck.kinks: moving ReLU / leaky-ReLU / step pre-activations off their kinks, in
dense networks and in nested compositions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import gradcheck as gc
from funcnn.blocks import Act, Dense, Dropout, serial
from tests.helpers import draws, once

MARGIN = 1e-3


def _pre_activations(net, params, x, key):
    """The output of every Dense block of the composition ``net`` (nested ones included)."""
    seen = []

    def step(block, p, z, k):
        inner = getattr(block, "serial", block)
        if hasattr(inner, "walk"):
            return inner.run(step, p, z, k)[0], None
        z = block.apply(p, z, key=k, train=k is not None)
        if isinstance(block, Dense):
            seen.append(z)
        return z, None

    getattr(net, "serial", net).run(step, params, x, key)
    return seen


def _assert_smallest_clearing_shift(a_moved, shift):
    """``shift`` (per unit) is a multiple of 2 margin, clears every |a| >= margin, and no
    multiple of smaller magnitude would (move_off_kinks' documented rule)."""
    a_moved = np.asarray(a_moved, np.float64)
    a = a_moved - shift  # the pre-activations before the shift
    k = shift / (2 * MARGIN)
    np.testing.assert_allclose(k, np.round(k), atol=1e-6)
    assert np.all(np.abs(a_moved) >= MARGIN * (1 - 1e-9))
    for unit, k_unit in enumerate(np.round(k).astype(int)):
        for smaller in range(-abs(k_unit) + 1, abs(k_unit)):
            assert np.min(np.abs(a[:, unit] + 2 * MARGIN * smaller)) < MARGIN


def test_move_off_kinks_clears_every_relu_preactivation_with_the_smallest_shift():
    with jax.enable_x64(True):
        net = F.mlp([3, 5, 4, 2], ["relu", "tanh"], output_activation="relu", dropout=[0.5, 0.0])
        params = [{"w": jnp.zeros((3, 5)), "b": jnp.zeros(5)}]  # layer 1: pre-activations all 0
        d = draws(2)
        params += gc.nontrivial_params(net, d)[1:]
        x = d.normal((33, 3))
        key = jax.random.key(3)

        def move(params, x, key):
            moved = gc.move_off_kinks(net, params, x, key=key, margin=MARGIN)
            before = gc.min_kink_distance(net, params, x, key=key)
            return moved, before, gc.min_kink_distance(net, moved, x, key=key)

        moved, before, after = gc.compile_once(move, params, x, key)(params, x, key)
        assert float(before) == 0.0
        assert float(after) >= MARGIN * (1 - 1e-9)
        np.testing.assert_array_equal(moved[0]["b"], np.full(5, 2 * MARGIN))  # 0 -> +2 margin
        np.testing.assert_array_equal(moved[1]["b"], params[1]["b"])  # tanh layer untouched
        for old, new in zip(params, moved):
            np.testing.assert_array_equal(old["w"], new["w"])
        a = once(lambda p, x, k: _pre_activations(net, p, x, k), moved, x, key)
        for j in (0, 2):  # the layers that feed a ReLU
            shift = np.asarray(moved[j]["b"]) - np.asarray(params[j]["b"])
            _assert_smallest_clearing_shift(a[j], shift)
        np.testing.assert_array_equal(params[0]["b"], np.zeros(5))  # the input is not mutated


def test_kinks_inside_nested_compositions_are_found_and_moved():
    net = serial(
        serial(Dense(3, 4), Act("relu"), Dropout(0.5)),
        serial(Act("leaky_relu"), F.mlp([4, 4, 2], "heaviside"), input_shape=(4,)),
    )
    zero = jax.tree_util.tree_map(jnp.zeros_like, jax.eval_shape(net.init, jax.random.key(0)))

    def move(params, x, key):
        moved = gc.move_off_kinks(net, params, x, key=key, margin=MARGIN)
        before = gc.min_kink_distance(net, params, x, key=key)
        return moved, before, gc.min_kink_distance(net, moved, x, key=key)

    moved, before, after = once(move, zero, jnp.ones((5, 3)), jax.random.key(4))
    assert float(before) == 0.0 and float(after) >= MARGIN * (1 - 1e-6)
    assert jax.tree_util.tree_structure(moved) == jax.tree_util.tree_structure(zero)
    for layer in (moved[0][0], moved[1][0][0]):  # the layers before a ReLU and a step
        np.testing.assert_array_equal(layer["b"], np.full(layer["b"].shape, 2 * MARGIN, np.float32))
    np.testing.assert_array_equal(moved[1][0][1]["b"], np.zeros(2))  # feeds no kink


def test_smooth_models_have_no_kink_and_margins_must_be_positive():
    net = F.mlp([3, 4, 2], "tanh")
    params = gc.nontrivial_params(net, draws(5, jnp.float32))
    assert float(gc.min_kink_distance(net, params, jnp.ones((2, 3)))) == np.inf
    with pytest.raises(ValueError, match="margin must be positive; got 0"):
        gc.move_off_kinks(net, params, jnp.ones((2, 3)), margin=0)
    with pytest.raises(TypeError, match="model must be a funcnn model built from blocks"):
        gc.min_kink_distance(lambda p, x: x, params, jnp.ones((2, 3)))
