"""The dense network's blocks: Dense, Act and Dropout (configuration, init, apply, shapes)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn.activations import get_activation
from funcnn.blocks import Act, Dense, Dropout
from funcnn.initializers import get_initializer
from funcnn.layers import dense_init, dropout_mask
from tests.helpers import VARIANTS

# --- Dense ------------------------------------------------------------------------------------


def test_dense_init_draws_w_from_its_scheme_and_zero_b(key):
    p = Dense(4, 3).init(key)
    jax.tree_util.tree_map(np.testing.assert_array_equal, p, dense_init(key, 4, 3))
    wkey, _ = jax.random.split(key)
    for scheme, option in (("normal", "std"), ("uniform", "scale")):
        p = Dense(4, 3, scheme, 0.5).init(key, jnp.float32)
        w = get_initializer(scheme, **{option: 0.5})(wkey, (4, 3), jnp.float32)
        np.testing.assert_array_equal(p["w"], w)
        np.testing.assert_array_equal(p["b"], np.zeros(3))
    assert Dense(4, 3, "he_normal").init(key)["w"].shape == (4, 3)


@pytest.mark.parametrize("variant", VARIANTS)
def test_dense_apply_is_x_w_plus_b_on_the_last_axis(variant, key):
    block = Dense(4, 3)
    params = {"w": jax.random.normal(key, (4, 3)), "b": jnp.array([0.5, -1.0, 2.0])}
    x2 = jax.random.normal(jax.random.fold_in(key, 1), (2, 4))
    x3 = jax.random.normal(jax.random.fold_in(key, 2), (2, 5, 4))
    y2, y3 = variant(lambda p, a, b: (block.apply(p, a), block.apply(p, b)))(params, x2, x3)
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    np.testing.assert_allclose(y2, np.einsum("bi,io->bo", x2, w) + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y3, np.einsum("bti,io->bto", x3, w) + b, rtol=1e-5, atol=1e-6)


def test_dense_shapes_and_their_errors():
    block = Dense(4, 3)
    assert block.input_shape == (4,)
    assert block.out_shape((4,)) == (3,) and block.out_shape([7, 4]) == (7, 3)
    with pytest.raises(ValueError, match=r"Dense\(4, 3\) takes examples whose last axis has 4 "):
        block.out_shape((5,))
    with pytest.raises(ValueError, match=r"got shape \(\) from the block before it"):
        block.out_shape(())


def test_dense_configuration_is_validated_frozen_and_hashable():
    with pytest.raises(ValueError, match="n_in must be a positive integer; got 0"):
        Dense(0, 3)
    with pytest.raises(ValueError, match="n_out must be a positive integer; got 2.5"):
        Dense(3, 2.5)
    with pytest.raises(ValueError, match="unknown initializer 'glorot'; valid names are"):
        Dense(3, 2, "glorot")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Dense(3, 2).n_in = 4
    assert Dense(3, 2) == Dense(3, 2) and hash(Dense(3, 2)) == hash(Dense(3, 2))
    assert (Dense.has_params, Dense.consumes_key, Dense.stochastic) == (True, False, False)


def test_dense_check_params_names_the_leaf():
    block = Dense(4, 3)
    block.check_params({"w": jnp.ones((4, 3)), "b": jnp.ones(3)})
    with pytest.raises(ValueError, match='p must be a dict with keys "w" and "b"'):
        block.check_params({"w": jnp.ones((4, 3))}, "p")
    with pytest.raises(ValueError, match=r"params\['w'\] must have shape \(4, 3\); got \(3, 4\)"):
        block.check_params({"w": jnp.ones((3, 4)), "b": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"params\['b'\] must have shape \(3,\); got \(4,\)"):
        block.check_params({"w": jnp.ones((4, 3)), "b": jnp.ones(4)})


# --- Act --------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_act_applies_its_activation_elementwise(variant):
    a = jnp.linspace(-2.0, 2.0, 12).reshape(2, 3, 2)
    names = ("relu", "tanh", "softplus")
    outs = variant(lambda a: [Act(n).apply((), a) for n in names])(a)
    for name, out in zip(names, outs):
        np.testing.assert_array_equal(out, get_activation(name).f(a))
    np.testing.assert_array_equal(outs[0], np.maximum(np.asarray(a), 0.0))


def test_act_has_no_params_and_keeps_the_shape(key):
    block = Act("tanh")
    assert block.init(key) == () and block.out_shape((2, 5)) == (2, 5)
    block.check_params(())
    with pytest.raises(ValueError, match=r"Act\('tanh'\) has no parameters: pass params=\(\)"):
        block.check_params({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="unknown activation 'swish'; valid names are"):
        Act("swish")
    assert (Act.has_params, Act.consumes_key, Act.stochastic) == (False, False, False)


# --- Dropout ----------------------------------------------------------------------------------


def test_dropout_rate_flags_and_errors():
    assert Dropout(0.5).stochastic and not Dropout(0.0).stochastic
    assert Dropout(0.0).consumes_key  # it reserves a key even when it drops nothing
    for rate in (-0.1, 1.0, True):
        with pytest.raises(ValueError, match=r"rate must be a drop probability in \[0, 1\)"):
            Dropout(rate)
    with pytest.raises(ValueError, match=r"Dropout\(0.5\) has no parameters"):
        Dropout(0.5).check_params([jnp.ones(1)])
    with pytest.raises(TypeError, match="key must be a jax.random.key"):
        Dropout(0.5).mask(0, (2, 3))


def test_dropout_mask_is_the_inverted_mask_of_its_key(key):
    m = Dropout(0.25).mask(key, (4, 6))
    np.testing.assert_array_equal(m, dropout_mask(key, 0.25, (4, 6)))
    assert set(np.unique(np.asarray(m))) <= {0.0, np.float32(1 / 0.75)}
    assert Dropout(0.0).mask(key, (4, 6)) is None


@pytest.mark.parametrize("variant", VARIANTS)
def test_dropout_apply_masks_in_training_only(variant, key):
    block = Dropout(0.5)
    x = jnp.arange(1.0, 25.0).reshape(4, 6)

    def both(x, key):
        return block.apply((), x, key=key, train=True), block.apply((), x, key=key)

    train, evaluation = variant(both)(x, key)
    np.testing.assert_array_equal(train, np.asarray(x) * np.asarray(block.mask(key, (4, 6))))
    assert 0 < np.sum(np.asarray(train) == 0) < x.size  # some units dropped, not all
    np.testing.assert_array_equal(evaluation, x)
    np.testing.assert_array_equal(Dropout(0.0).apply((), x, train=True), x)  # no key needed
    with pytest.raises(ValueError, match=r"Dropout\(0.5\) with train=True needs key="):
        block.apply((), x, train=True)
