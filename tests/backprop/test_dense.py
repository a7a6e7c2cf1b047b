"""funcnn.backprop.dense: the dense layer (split and absorbed bias), the activations and inverted
dropout, each against jax.vjp, and the kink conventions against jax.grad."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn.activations import ACTIVATIONS, get_activation
from funcnn.blocks import Act, Dense, Dropout
from tests.helpers import VARIANTS, close, draws, once


def _dense_problem(seed):
    """Params of a 5 -> 3 layer, its input z_prev (4, 5) and a delta (4, 3), float64."""
    d = draws(seed)
    params = {"w": d.normal((5, 3)), "b": d.normal((3,))}
    return params, d.normal((4, 5)), d.normal((4, 3))


def test_dense_backward_is_the_transposed_lecture_formula():
    with jax.enable_x64(True):
        params, z_prev, delta = _dense_problem(0)

        def both(params, z_prev, delta):
            a, cache = bp.dense_forward(params, z_prev)
            grads, dz_prev = bp.dense_backward(params, cache, delta)
            _, vjp = jax.vjp(F.dense_apply, params, z_prev)
            return (a, grads, dz_prev), (F.dense_apply(params, z_prev), *vjp(delta))

        ours, ref = once(both, params, z_prev, delta)
        close(ours, ref)
        # The notes' dL/dW_j = sum_i delta_j z_{j-1}^T is our dw transposed.
        notes_dW = np.einsum("bo,bi->oi", np.asarray(delta), np.asarray(z_prev))
        close(ours[1]["w"], notes_dW.T)


def test_absorbed_bias_backward_equals_split_form_and_vjp():
    with jax.enable_x64(True):
        params, z_prev, delta = _dense_problem(1)

        def all_forms(params, z_prev, delta):
            tilde = F.absorb_bias(params)
            a, cache = bp.dense_absorbed_forward(tilde, z_prev)
            g_tilde, dz = bp.dense_absorbed_backward(tilde, cache, delta)
            g, dz_split = bp.dense_backward(params, bp.DenseCache(z_prev), delta)
            _, vjp = jax.vjp(F.dense_absorbed_apply, tilde, z_prev)
            return a, F.dense_apply(params, z_prev), g_tilde, g, dz, dz_split, vjp(delta)

        a, a_split, g_tilde, g, dz, dz_split, (ref_g, ref_dz) = once(
            all_forms, params, z_prev, delta
        )
        close(a, a_split)
        close(g_tilde["w"], np.concatenate([g["w"], g["b"][None, :]], axis=0))
        close(dz, dz_split)
        close((g_tilde, dz), (ref_g, ref_dz))


def test_dense_backward_rejects_a_delta_of_the_wrong_shape():
    params = {"w": jnp.ones((5, 3)), "b": jnp.ones(3)}
    cache = bp.DenseCache(jnp.ones((4, 5)))
    with pytest.raises(ValueError, match=r"delta must have shape \(4, 3\) \(batch, n_out\)"):
        bp.dense_backward(params, cache, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"z_prev has 4 features but the layer expects n_in = 5"):
        bp.dense_forward(params, jnp.ones((2, 4)))


def test_activation_backward_matches_vjp_for_every_activation():
    names = sorted(ACTIVATIONS)
    with jax.enable_x64(True):
        a = jnp.linspace(-3.0, 3.0, 12)  # not 0: the kinks are tested on their own below
        dz = jnp.linspace(0.5, 2.0, 12)

        def both(a, dz):
            out = {}
            for name in names:
                z, cache = bp.activation_forward(name, a)
                f, vjp = jax.vjp(get_activation(name).f, a)
                out[name] = (z, bp.activation_backward(name, cache, dz)), (f, vjp(dz)[0])
            return out

        for ours, ref in once(both, a, dz).values():
            close(ours, ref)


def test_kink_conventions_at_exact_zero_agree_with_autodiff():
    """At an exactly zero pre-activation ReLU' = 0, leaky ReLU' = 0.01, step' = 0; |w|' = +1.
    Networks whose hidden pre-activations are all exactly 0 get the same gradients both ways."""
    kinked = ("relu", "leaky_relu", "heaviside")
    with jax.enable_x64(True):
        d = draws(2)
        x, y = d.normal((5, 4)), d.normal((5, 2))
        nets = {act: F.mlp([4, 3, 3, 2], act) for act in kinked}
        zero_hidden = [
            {"w": jnp.zeros((4, 3)), "b": jnp.zeros(3)},
            {"w": jnp.zeros((3, 3)), "b": jnp.zeros(3)},
            {"w": jnp.ones((3, 2)), "b": jnp.array([0.5, -0.5])},
        ]

        def everything(params, x, y):
            zero = jnp.zeros(3)
            out = {}
            for act in kinked:
                f = get_activation(act).f
                manual = bp.activation_backward(act, bp.ActivationCache(zero), jnp.ones(3))
                auto = jax.grad(lambda a, f=f: f(a).sum())(zero)
                net = nets[act]
                grads = bp.value_and_grad(net, "mse")(params, x, y)[1]
                ref = jax.grad(lambda p, net=net: F.mse(net.apply(p, x), y))(params)
                out[act] = (manual, auto, grads, ref)
            out["l1"] = (bp.l1_penalty_backward(params), jax.grad(F.l1_penalty)(params))
            return out

        out = once(everything, zero_hidden, x, y)
        for act, slope in (("relu", 0.0), ("leaky_relu", 0.01), ("heaviside", 0.0)):
            manual, auto, grads, ref = out[act]
            np.testing.assert_array_equal(manual, np.full(3, slope))
            np.testing.assert_array_equal(auto, np.full(3, slope))
            jax.tree_util.tree_map(np.testing.assert_array_equal, grads, ref)
        np.testing.assert_array_equal(out["l1"][0][0]["w"], np.ones((4, 3)))
        jax.tree_util.tree_map(np.testing.assert_array_equal, *out["l1"])


def test_softplus_derivative_at_exactly_zero_is_one_half():
    """softplus'(0) = sigmoid(0) = 1/2: the manual backward and central differences agree."""
    with jax.enable_x64(True):
        zero = jnp.zeros(1)
        manual = bp.activation_backward("softplus", bp.ActivationCache(zero), jnp.ones(1))
        h = 1e-6
        fd = (F.activations.softplus(zero + h) - F.activations.softplus(zero - h)) / (2 * h)
        np.testing.assert_allclose(manual, 0.5, rtol=1e-15)
        np.testing.assert_allclose(fd, 0.5, rtol=1e-9)


def test_dropout_backward_matches_vjp_and_drops_the_same_units():
    with jax.enable_x64(True):
        d = draws(3)
        mask = jnp.asarray(d.bernoulli((4, 6), 0.5) / 0.5)
        z, dout = d.normal((4, 6)), d.normal((4, 6))

        def both(mask, z, dout):
            out, cached = bp.dropout_forward(z, mask)
            _, vjp = jax.vjp(lambda z: z * mask, z)
            return (out, bp.dropout_backward(cached, dout)), (z * mask, vjp(dout)[0])

        ours, ref = once(both, mask, z, dout)
        close(ours, ref)
        dropped = np.asarray(mask) == 0
        assert 0 < dropped.sum() < dropped.size
        assert np.all(np.asarray(ours[1])[dropped] == 0)
        out, cache = bp.dropout_forward(z, None)  # no mask: the identity, nothing cached
        assert out is z and cache is None
        assert bp.dropout_backward(None, dout) is dout


# --- the blocks' registered pairs -----------------------------------------------------------------


DENSE, DROP = Dense(4, 3), Dropout(0.5)
ACTS = (Act("gelu"), Act("leaky_relu"))


@functools.cache
def _pair_problem():
    """Params, an input of rank 3 (its leading axes are rows of one product), cotangents and a
    dropout key, float64 (use inside ``jax.enable_x64``)."""
    with jax.enable_x64(True):
        d = draws(4)
        params = {"w": d.normal((4, 3)), "b": d.normal((3,))}
        x, dout = d.normal((2, 5, 4)), d.normal((2, 5, 3))
        a, da = d.normal((2, 5, 3)), d.normal((2, 5, 3))
        return params, x, dout, a, da, jax.random.key(3)


def _registered_pairs(params, x, dout, a, da, key):
    """``(out, param grads, dx)`` of each block through funcnn.backprop's dispatch."""
    y, cache = bp.forward(DENSE, params, x)
    out = {"dense": (y, *bp.backward(DENSE, params, cache, dout))}
    for act in ACTS:
        z, c = bp.forward(act, (), a)
        out[act.name] = (z, *bp.backward(act, (), c, da))
    h, m = bp.forward(DROP, (), a, key)
    out["dropout"] = (h, *bp.backward(DROP, (), m, da))
    h0, m0 = bp.forward(DROP, (), a)  # no key: the evaluation pass
    out["dropout[eval]"] = (h0, *bp.backward(DROP, (), m0, da))
    return out


@functools.cache
def _vjps_of_apply():
    """The same from jax.vjp of each block's apply, compiled once for both variants."""

    def vjps(params, x, dout, a, da, key):
        y, vjp = jax.vjp(lambda p, x: DENSE.apply(p, x), params, x)
        out = {"dense": (y, *vjp(dout))}
        for act in ACTS:
            z, vjp = jax.vjp(lambda a, act=act: act.apply((), a), a)
            out[act.name] = (z, (), vjp(da)[0])
        h, vjp = jax.vjp(lambda a: DROP.apply((), a, key=key, train=True), a)
        out["dropout"] = (h, (), vjp(da)[0])
        out["dropout[eval]"] = (a, (), da)
        return out

    with jax.enable_x64(True):
        return once(vjps, *_pair_problem())


@pytest.mark.parametrize("variant", VARIANTS)
def test_registered_pairs_equal_vjp_of_the_blocks_apply(variant):
    with jax.enable_x64(True):
        ours = variant(_registered_pairs)(*_pair_problem())
        close(ours, _vjps_of_apply())
        assert 0 < np.sum(np.asarray(ours["dropout"][2]) == 0) < ours["dropout"][2].size
