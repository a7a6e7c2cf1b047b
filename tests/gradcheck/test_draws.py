"""funcnn.gradcheck.draws: reproducible random numbers and non-trivial parameters for any
composition."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import gradcheck as gc
from funcnn.blocks import Act, Dense, serial


def test_draws_are_reproducible_and_handed_out_in_order():
    a, b = gc.Draws(jax.random.key(0), jnp.float32), gc.Draws(jax.random.key(0), jnp.float32)
    first = a.normal((3, 2))
    np.testing.assert_array_equal(first, b.normal((3, 2)))
    assert first.dtype == jnp.float32
    assert not np.allclose(a.normal((3, 2)), first)  # the next numbers, not the same again
    u = a.uniform((300,), 2.0, 3.0)
    assert 2.0 <= float(u.min()) and float(u.max()) < 3.0 and abs(float(u.mean()) - 2.5) < 0.05
    labels = np.asarray(a.randint((200,), 4))
    assert set(labels.tolist()) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="needs more than 512 random numbers"):
        a.normal((gc.Draws.SIZE,))  # 6 + 6 of the normals are taken already


def test_nontrivial_params_have_init_s_layout_and_no_zero_leaf():
    net = serial(serial(Dense(6, 5), Act("tanh")), Dense(5, 3), input_shape=(6,))
    params = gc.nontrivial_params(net, gc.Draws(jax.random.key(1), jnp.float32))
    shapes = jax.tree_util.tree_map(lambda a: a.shape, params)
    init = jax.eval_shape(net.init, jax.random.key(0))
    assert shapes == jax.tree_util.tree_map(lambda a: a.shape, init)
    assert all(np.all(np.asarray(leaf) != 0) for leaf in jax.tree_util.tree_leaves(params))
    # Weights ~ N(0, 1/fan_in), biases ~ N(0, 0.1^2): the perceptron's zeros would hide bugs.
    (wide,) = gc.nontrivial_params(F.mlp([100, 3]), gc.Draws(jax.random.key(2), jnp.float32))
    (biases,) = gc.nontrivial_params(F.mlp([1, 200]), gc.Draws(jax.random.key(3), jnp.float32))
    assert np.std(np.asarray(wide["w"])) == pytest.approx(1 / 10, rel=0.15)
    assert np.std(np.asarray(biases["b"])) == pytest.approx(0.1, rel=0.15)
