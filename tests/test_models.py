"""Every model: output shapes, jit and vmap, determinism from the key, dropout, the composition
underneath, the perceptron rule, and the errors of bad configuration and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import gradcheck as gc
from tests.helpers import draws, once

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
    return draws(42, jnp.float32).normal((BATCH, N_IN))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_jit_vmap_and_keys(name, x):
    net = MODELS[name]
    key = jax.random.key(1)
    params = net.init(key)
    assert [tuple(layer["w"].shape) for layer in params] == list(zip(net.sizes[:-1], net.sizes[1:]))
    y = net.apply(params, x)
    assert y.shape == (BATCH, net.sizes[-1])
    np.testing.assert_allclose(jax.jit(net.apply)(params, x), y, rtol=1e-6, atol=1e-6)
    per_example = jax.jit(jax.vmap(lambda xi: net.apply(params, xi[None])[0]))(x)
    np.testing.assert_allclose(per_example, y, rtol=1e-5, atol=1e-6)
    # Same key, same params; another key, other params — except the perceptron's, which
    # start at zero whatever the key.
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, net.init(key))
    other = net.init(jax.random.key(2))
    assert np.allclose(params[0]["w"], other[0]["w"]) == (name == "perceptron")
    if name == "perceptron":
        jax.tree_util.tree_map(lambda p: np.testing.assert_array_equal(p, 0.0), params)


def _params(net, seed):
    """Parameters shaped like ``net.init``'s with no zero leaf (zero biases hide bias bugs)."""
    return gc.nontrivial_params(net, draws(seed, jnp.float32))


def test_output_formulas(x):
    lin = MODELS["linear_regression"]
    p = _params(lin, 3)
    np.testing.assert_allclose(lin.apply(p, x), x @ p[0]["w"] + p[0]["b"][None, :], rtol=1e-6)
    neuron = MODELS["single_neuron"]
    p = _params(neuron, 4)
    expected = 1 / (1 + jnp.exp(-(x @ p[0]["w"] + p[0]["b"][None, :])))
    np.testing.assert_allclose(neuron.apply(p, x), expected, rtol=1e-6)
    net = F.mlp([N_IN, 6, 2], "sigmoid", output_activation="tanh")
    p = _params(net, 5)
    h = F.sigmoid(x @ p[0]["w"] + p[0]["b"][None, :])
    np.testing.assert_allclose(
        net.apply(p, x), jnp.tanh(h @ p[1]["w"] + p[1]["b"][None, :]), rtol=1e-6
    )


def test_deep_linear_is_a_product_of_matrices(x):
    net = MODELS["deep_linear"]
    p = _params(net, 6)
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
    net = F.mlp([3, 2000, 1], "identity", dropout=0.25)
    params = net.init(jax.random.key(0))
    params = [dict(p, b=jnp.linspace(-1.0, 1.0, p["b"].shape[0])) for p in params]  # not 0
    x = jnp.ones((2, 3))

    def outputs(params, x):
        return (
            net.apply(params, x),
            net.dropout_masks(jax.random.key(5), 2),
            net.apply(params, x, key=jax.random.key(5), train=True),
            net.apply(params, x, key=jax.random.key(6), train=True),
        )

    eval_out, masks, train_out, other = once(outputs, params, x)
    # Evaluation: no mask, the plain two-layer formula.
    w1, b1, w2, b2 = (np.asarray(params[j][k], np.float64) for j in (0, 1) for k in ("w", "b"))
    h = np.asarray(x) @ w1 + b1
    np.testing.assert_allclose(eval_out, h @ w2 + b2, rtol=1e-5)
    m = np.asarray(masks[0])
    assert np.all((m == 0) | np.isclose(m, 1 / 0.75))
    assert (m == 0).mean() == pytest.approx(0.25, abs=0.03)
    assert m.mean() == pytest.approx(1.0, abs=0.05)  # E[mask] = 1: inverted scaling
    np.testing.assert_allclose(train_out, (h * m) @ w2 + b2, rtol=1e-5)
    assert not np.allclose(train_out, other)


def test_dropout_in_training_needs_a_key(x):
    net = MODELS["mlp"]
    with pytest.raises(ValueError, match="needs key="):
        net.apply(jax.eval_shape(net.init, jax.random.key(0)), x, train=True)


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


def test_a_dense_model_is_its_composition_of_blocks(x):
    net = MODELS["mlp"]
    blocks = net.serial.blocks
    assert blocks == (
        F.Dense(N_IN, 6, "xavier_normal"),
        F.Act("tanh"),
        F.Dropout(0.3),
        F.Dense(6, 7, "xavier_normal"),
        F.Act("relu"),
        F.Dropout(0.0),
        F.Dense(7, 3, "xavier_normal"),
        F.Act("identity"),
    )
    assert net.blocks == blocks and net.serial.kind == "mlp"
    assert (net.input_shape, net.output_shape, net.out_shape((N_IN,))) == ((N_IN,), (3,), (3,))
    assert net.stochastic and net.consumes_key and not MODELS["deep_linear"].stochastic
    no_dropout = F.mlp([N_IN, 6, 3], "tanh").serial.blocks
    assert [type(b).__name__ for b in no_dropout] == ["Dense", "Act", "Dense", "Act"]
    key = jax.random.key(8)
    jax.tree_util.tree_map(np.testing.assert_array_equal, net.init(key), net.serial.init(key))
    # Layer j's mask is the j-th Dropout block's: drawn from fold_in(key, j).
    masks = net.dropout_masks(key, BATCH)
    assert masks[1] is None
    np.testing.assert_array_equal(
        masks[0], F.Dropout(0.3).mask(jax.random.fold_in(key, 0), (BATCH, 6))
    )
    config = net.to_config()
    assert config["sizes"] == [N_IN, 6, 7, 3] and config["dropout"] == [0.3, 0.0]
    assert config["activations"] == ["tanh", "relu"] and config["kind"] == "mlp"
    assert hash(net) == hash(F.mlp([N_IN, 6, 7, 3], ["tanh", "relu"], dropout=[0.3, 0.0]))


# --- errors: bad configuration and bad input --------------------------------------------------

NET = F.mlp([3, 4, 2], "relu")
PARAMS = NET.init(jax.random.key(0))


def test_wrong_rank_feature_size_and_empty_batch():
    with pytest.raises(ValueError, match=r"x must have rank 2 \(batch, 3\).*got shape \(3,\)"):
        NET.apply(PARAMS, jnp.ones(3))
    with pytest.raises(
        ValueError, match=r"x must have shape \(batch, 3\) for this mlp; got \(2, 4\)"
    ):
        NET.apply(PARAMS, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="x is an empty batch"):
        NET.apply(PARAMS, jnp.ones((0, 3)))


def test_params_of_another_model():
    with pytest.raises(ValueError, match=r"params\[1\]\['w'\] must have shape \(4, 2\)"):
        NET.apply(F.mlp([3, 4, 5]).init(jax.random.key(0)), jnp.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"params must be a list of 2 entries, one per block with parameters \(Dense, Dense\)",
    ):
        NET.apply(PARAMS[:1], jnp.ones((2, 3)))


def test_unknown_names():
    with pytest.raises(
        ValueError, match="unknown activation 'relux'; valid names are: gelu, heaviside, identity"
    ):
        F.mlp([3, 4, 2], "relux")
    with pytest.raises(
        ValueError, match="unknown initializer 'glorot'; valid names are: he_normal"
    ):
        F.mlp([3, 4, 2], initializer="glorot")


def test_non_positive_sizes():
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive integer; got 0"):
        F.mlp([3, 0, 2])
    with pytest.raises(ValueError, match="sizes must list at least 2 layer sizes"):
        F.mlp([3])
    with pytest.raises(ValueError, match="n_out must be a positive integer; got 0"):
        F.linear_regression(3, 0)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"dropout\[0\] must be a drop probability in \[0, 1\)"):
        F.mlp([3, 4, 2], dropout=rate)


def test_wrong_number_of_per_layer_settings():
    with pytest.raises(ValueError, match="activations must name one activation per hidden layer"):
        F.mlp([3, 4, 4, 2], ["relu"])
    with pytest.raises(ValueError, match="dropout must give one rate per hidden layer"):
        F.mlp([3, 4, 4, 2], dropout=[0.1])


def test_integer_inputs_are_rejected_not_cast():
    with pytest.raises(TypeError, match="x must have a floating dtype; got int32"):
        NET.apply(PARAMS, jnp.ones((2, 3), jnp.int32))


def test_key_must_be_a_jax_key():
    with pytest.raises(TypeError, match="key must be a jax.random.key"):
        NET.init(0)


def test_perceptron_rule_checks_its_example():
    params = F.perceptron(2).init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"x must have rank 1 \(n_in,\)"):
        F.perceptron_update(params, jnp.ones((1, 2)), jnp.array(0.0))
    with pytest.raises(ValueError, match=r"x must have 2 features for params\['w'\]"):
        F.perceptron_update(params, jnp.ones(3), jnp.array(0.0))
