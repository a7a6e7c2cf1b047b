"""Recurrent blocks: the cells against their equations written out in NumPy, hand-written BPTT
against jax.grad through the scan and finite differences, truncation, bidirectional, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.blocks import GRU, RNN, Bidirectional, Dense, Reshape, serial


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_states(cell, params, x):
    """Every hidden state, by the module docstring's equations, one step at a time."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    H = cell.n_hidden
    h = np.broadcast_to(p["h0"], (x.shape[0], H)) if cell.learn_h0 else np.zeros((x.shape[0], H))
    states = []
    for t in range(x.shape[1]):
        xt = np.asarray(x[:, t], np.float64)
        if isinstance(cell, GRU):
            wx, wh, b = p["w_x"], p["w_h"], p["b"]
            z = sigmoid(xt @ wx[:, :H] + h @ wh[:, :H] + b[:H])
            r = sigmoid(xt @ wx[:, H : 2 * H] + h @ wh[:, H : 2 * H] + b[H : 2 * H])
            hh = np.tanh(xt @ wx[:, 2 * H :] + (r * h) @ wh[:, 2 * H :] + b[2 * H :])
            h = z * h + (1 - z) * hh
        else:
            h = np.tanh(xt @ p["w_x"] + h @ p["w_h"] + p["b"])
        states.append(h)
    return np.stack(states, axis=1)  # (B, T, H)


@pytest.mark.parametrize("cell_type", [RNN, GRU])
@pytest.mark.parametrize("learn_h0", [False, True])
def test_cells_follow_their_equations(cell_type, learn_h0):
    with jax.enable_x64(True):
        cell = cell_type(3, 5, return_sequences=True, learn_h0=learn_h0)
        params = gc.nontrivial_params(serial(cell, input_shape=(6, 3)),
                                      gc.Draws(jax.random.key(0), jnp.float64))[0]  # fmt: skip
        x = jax.random.normal(jax.random.key(1), (4, 6, 3), jnp.float64)
        expected = numpy_states(cell, params, x)
        np.testing.assert_allclose(cell.apply(params, x), expected, rtol=1e-12, atol=1e-13)
        last = cell_type(3, 5, learn_h0=learn_h0).apply(params, x)
        np.testing.assert_allclose(last, expected[:, -1], rtol=1e-12, atol=1e-13)


def test_bidirectional_runs_the_copy_over_the_reversed_sequence():
    with jax.enable_x64(True):
        bi = Bidirectional(GRU(2, 3, return_sequences=True))
        params = bi.init(jax.random.key(0), jnp.float64)
        x = jax.random.normal(jax.random.key(1), (2, 5, 2), jnp.float64)
        out = bi.apply(params, x)
        fwd = numpy_states(bi.cell, params["fwd"], x)
        bwd = numpy_states(bi.cell, params["bwd"], x[:, ::-1])[:, ::-1]  # state at step t
        np.testing.assert_allclose(out, np.concatenate([fwd, bwd], -1), rtol=1e-12, atol=1e-13)
        last = Bidirectional(GRU(2, 3)).apply(params, x)
        np.testing.assert_allclose(last, np.concatenate([fwd[:, -1], bwd[:, 0]], -1), atol=1e-13)


def _grads(net, params, x, y):
    return bp.value_and_grad(net, "mse")(params, x, y)[1]


@pytest.mark.parametrize("cell_type", [RNN, GRU])
def test_truncated_bptt_cuts_the_gradient_and_only_the_gradient(cell_type):
    with jax.enable_x64(True):
        T = 9

        def net(truncate):
            cell = cell_type(2, 4, return_sequences=True, truncate=truncate)
            return serial(Reshape((T, 2)), cell, input_shape=(2 * T,))

        full, cut, long = net(None), net(3), net(T)
        draws = gc.Draws(jax.random.key(2), jnp.float64)
        params = gc.nontrivial_params(full, draws)
        x, y = draws.normal((3, 2 * T)), draws.normal((3, T, 4))
        np.testing.assert_array_equal(cut.apply(params, x), full.apply(params, x))  # same outputs
        g_full, g_cut = _grads(full, params, x, y), _grads(cut, params, x, y)
        ref_cut = jax.grad(lambda p: funcnn.mse(cut.apply(p, x), y))(params)
        np.testing.assert_allclose(g_cut[0]["w_h"], ref_cut[0]["w_h"], rtol=1e-12, atol=1e-14)
        assert not np.allclose(g_cut[0]["w_h"], g_full[0]["w_h"], rtol=1e-3)
        # A window as long as the sequence cuts nothing.
        np.testing.assert_allclose(
            _grads(long, params, x, y)[0]["w_h"], g_full[0]["w_h"], rtol=1e-12
        )


def test_gradient_reaches_a_learned_initial_state():
    with jax.enable_x64(True):
        net = serial(GRU(1, 3, learn_h0=True), Dense(3, 2), input_shape=(4, 1))
        params = gc.nontrivial_params(net, gc.Draws(jax.random.key(3), jnp.float64))
        x = jax.random.normal(jax.random.key(4), (5, 4, 1), jnp.float64)
        y = jnp.zeros((5, 2))
        g = _grads(net, params, x, y)
        ref = jax.grad(lambda p: funcnn.mse(net.apply(p, x), y))(params)
        np.testing.assert_allclose(g[0]["h0"], ref[0]["h0"], rtol=1e-11)
        assert np.abs(g[0]["h0"]).max() > 1e-6


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GRU(2, 3, truncate=0), "truncate .* must be >= 1; got 0"),
        (lambda: RNN(2, 3, truncate=2.5), "truncate must be None or an int"),
        (lambda: GRU(0, 3), "n_in must be a positive integer"),
        (lambda: serial(GRU(2, 3), input_shape=(5, 4)), r"GRU\(2, 3\) takes sequences \(time, 2\)"),
        (lambda: GRU(2, 3).apply(GRU(2, 3).init(jax.random.key(0)), jnp.ones((4, 2))), "rank 3"),
        (lambda: GRU(2, 3).apply(GRU(2, 3).init(jax.random.key(0)), jnp.ones((4, 0, 2))),
         "empty sequence"),
        (lambda: GRU(2, 3).apply(GRU(2, 3).init(jax.random.key(0)), jnp.ones((4, 5, 3))),
         "2 features per step"),
        (lambda: GRU(2, 3).apply({"w_x": jnp.ones((2, 9))}, jnp.ones((4, 5, 2))), "keys"),
        (lambda: Bidirectional(Dense(2, 3)), "needs an RNN or GRU cell"),
    ],
)  # fmt: skip
def test_bad_input_is_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()
