"""Every model: output shapes, jit and vmap, determinism from the key, dropout, perceptron rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F

N_IN, BATCH = 5, 4

MODELS = {
    "perceptron": F.perceptron(N_IN),
    "single_neuron": F.single_neuron(N_IN),
    "logistic_regression": F.logistic_regression(N_IN),
    "linear_regression": F.linear_regression(N_IN, 2),
    "softmax_regression": F.softmax_regression(N_IN, 3),
    "mlp": F.mlp([N_IN, 6, 7, 3], ["tanh", "relu"], dropout=[0.3, 0.0]),
    "deep_linear": F.deep_linear([N_IN, 4, 4, 4, 2]),
}


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(42), (BATCH, N_IN))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_jit_vmap_and_keys(name, x):
    net = MODELS[name]
    key = jax.random.key(1)
    params = net.init(key)
    assert [tuple(layer["w"].shape) for layer in params] == list(zip(net.sizes[:-1], net.sizes[1:]))
    y = net.apply(params, x)
    assert y.shape == (BATCH, net.sizes[-1])
    np.testing.assert_allclose(jax.jit(net.apply)(params, x), y, rtol=1e-6, atol=1e-6)
    per_example = jax.vmap(lambda xi: net.apply(params, xi[None])[0])(x)
    np.testing.assert_allclose(per_example, y, rtol=1e-5, atol=1e-6)
    # Same key, same params; another key, other params (the perceptron starts at zero).
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, net.init(key))
    if name != "perceptron":
        other = net.init(jax.random.key(2))
        assert not np.allclose(params[0]["w"], other[0]["w"])


def test_output_formulas(x):
    key = jax.random.key(3)
    lin = MODELS["linear_regression"]
    p = lin.init(key)
    np.testing.assert_allclose(lin.apply(p, x), x @ p[0]["w"] + p[0]["b"][None, :], rtol=1e-6)
    neuron = MODELS["single_neuron"]
    p = neuron.init(key)
    expected = 1 / (1 + jnp.exp(-(x @ p[0]["w"] + p[0]["b"][None, :])))
    np.testing.assert_allclose(neuron.apply(p, x), expected, rtol=1e-6)
    net = F.mlp([N_IN, 6, 2], "sigmoid", output_activation="tanh")
    p = net.init(key)
    h = F.sigmoid(x @ p[0]["w"] + p[0]["b"][None, :])
    np.testing.assert_allclose(
        net.apply(p, x), jnp.tanh(h @ p[1]["w"] + p[1]["b"][None, :]), rtol=1e-6
    )


def test_deep_linear_is_a_product_of_matrices(x):
    net = MODELS["deep_linear"]
    p = net.init(jax.random.key(4))
    w = p[0]["w"]
    b = p[0]["b"]
    for layer in p[1:]:
        b = b @ layer["w"] + layer["b"]
        w = w @ layer["w"]
    np.testing.assert_allclose(net.apply(p, x), x @ w + b[None, :], rtol=1e-5, atol=1e-6)


def test_default_initializer_matches_activation():
    assert F.mlp([3, 4, 2], "relu").initializer == "he_normal"
    assert F.mlp([3, 4, 2], "tanh").initializer == "xavier_normal"
    assert F.mlp([3, 4, 2], "tanh", initializer="he_uniform").initializer == "he_uniform"


def test_dropout_only_in_training_with_inverted_scaling():
    net = F.mlp([3, 2000, 1], "identity", dropout=0.25, initializer="normal", init_std=1.0)
    params = net.init(jax.random.key(0))
    x = jnp.ones((2, 3))
    eval_out = net.apply(params, x)
    np.testing.assert_array_equal(eval_out, net.apply(params, x))  # deterministic in eval
    masks = net.dropout_masks(jax.random.key(5), 2)
    m = np.asarray(masks[0])
    assert np.all((m == 0) | np.isclose(m, 1 / 0.75))
    assert (m == 0).mean() == pytest.approx(0.25, abs=0.03)
    assert m.mean() == pytest.approx(1.0, abs=0.05)  # E[mask] = 1: inverted scaling
    train_out = net.apply(params, x, key=jax.random.key(5), train=True)
    h = x @ params[0]["w"] + params[0]["b"][None, :]
    expected = (h * masks[0]) @ params[1]["w"] + params[1]["b"][None, :]
    np.testing.assert_allclose(train_out, expected, rtol=1e-5)
    other = net.apply(params, x, key=jax.random.key(6), train=True)
    assert not np.allclose(train_out, other)


def test_dropout_in_training_needs_a_key(x):
    net = MODELS["mlp"]
    with pytest.raises(ValueError, match="needs key="):
        net.apply(net.init(jax.random.key(0)), x, train=True)


def test_perceptron_rule_on_one_example():
    params = F.perceptron(2).init(jax.random.key(0))  # w = 0, b = 0: predicts 1 everywhere
    x = jnp.array([1.0, -2.0])
    new, mistake = F.perceptron_update(params, x, jnp.array(0.0), lr=0.5)
    assert int(mistake) == 1
    np.testing.assert_allclose(new[0]["w"][:, 0], -0.5 * x)  # w + lr (y - y_hat) x, y - y_hat = -1
    np.testing.assert_allclose(new[0]["b"], [-0.5])
    same, mistake = F.perceptron_update(new, x, jnp.array(0.0), lr=0.5)
    assert int(mistake) == 0
    jax.tree_util.tree_map(np.testing.assert_array_equal, same, new)


def test_perceptron_epochs_separate_separable_data():
    key = jax.random.key(7)
    x = jax.random.normal(key, (40, 2))
    y = (x @ jnp.array([1.0, -1.0]) + 0.3 > 0).astype(jnp.float32)
    net = F.perceptron(2)
    params = net.init(key)
    epoch = jax.jit(F.perceptron_epoch)
    for _ in range(100):
        params, mistakes = epoch(params, x, y)
        if int(mistakes) == 0:
            break
    assert int(mistakes) == 0
    np.testing.assert_array_equal(net.apply(params, x)[:, 0], y)
