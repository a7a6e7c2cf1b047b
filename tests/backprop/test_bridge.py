"""funcnn.backprop.bridge: a custom_vjp loss whose jax.grad is the hand-written gradient — for a
dense network and a plain composition, through optax, and per example under vmap."""

import chex
import jax
import numpy as np
import optax
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from tests.backprop.nets import NET, SERIAL, B, net_data
from tests.helpers import close, draws, once


def test_bridge_grad_is_the_manual_gradient():
    with jax.enable_x64(True):
        params, x, y, key = net_data()
        reg = F.mlp([5, 6, 3], "tanh")
        d = draws(28)
        p_reg, y_reg = gc.nontrivial_params(reg, d), d.normal((B, 3))
        loss_fn = bp.bridge(NET, "softmax_cross_entropy", l2=0.05, l1=0.01)
        manual = bp.value_and_grad(NET, "softmax_cross_entropy", l2=0.05, l1=0.01)
        bridged_reg = bp.bridge(reg, "mse")
        auto_reg = lambda p, x, y: F.mse(reg.apply(p, x), y)

        def everything(params, x, y, key, p_reg, y_reg):
            return (
                jax.value_and_grad(loss_fn)(params, x, y, key),
                manual(params, x, y, key),
                jax.grad(bridged_reg, argnums=(0, 1, 2))(p_reg, x, y_reg),
                jax.grad(auto_reg, argnums=(0, 1, 2))(p_reg, x, y_reg),
            )

        bridged, direct, reg_bridged, reg_auto = once(everything, params, x, y, key, p_reg, y_reg)
        chex.assert_trees_all_equal(bridged, direct)
        # Inputs and float targets get the hand-written cotangents too.
        close(reg_bridged, reg_auto)


def test_bridge_of_a_plain_composition():
    with jax.enable_x64(True):
        d = draws(29)
        params, x, y = gc.nontrivial_params(SERIAL, d), d.normal((6, 4)), d.normal((6, 3))
        key = jax.random.key(29)
        loss_fn = bp.bridge(SERIAL, "mse", l2=0.1)
        manual = bp.value_and_grad(SERIAL, "mse", l2=0.1)

        def auto(p, x, y, key):
            out = SERIAL.apply(p, x, key=key, train=True)
            return F.mse(out, y) + 0.1 * F.l2_penalty(p)

        def everything(params, x, y, key):
            return (
                jax.value_and_grad(loss_fn)(params, x, y, key),
                manual(params, x, y, key),
                jax.grad(loss_fn, argnums=(0, 1, 2))(params, x, y, key),
                jax.grad(auto, argnums=(0, 1, 2))(params, x, y, key),
            )

        bridged, direct, all_bridged, all_auto = once(everything, params, x, y, key)
        chex.assert_trees_all_equal(bridged, direct)
        rows = gc.compare_grads(all_bridged, all_auto, rtol=1e-10)
        assert all(r.passed for r in rows), [r for r in rows if not r.passed]
        with pytest.raises(ValueError, match=r"x must have shape \(batch, 4\) for this serial"):
            loss_fn(params, x[:, :3], y, key)


def test_optax_training_with_manual_gradients_equals_autodiff():
    with jax.enable_x64(True):
        net = F.mlp([5, 8, 3], "tanh")
        d = draws(30)
        params0, x, y = gc.nontrivial_params(net, d), d.normal((16, 5)), d.randint((16,), 3)
        opt = optax.adam(0.05)
        bridged = bp.bridge(net, "softmax_cross_entropy")
        manual_vg = bp.value_and_grad(net, "softmax_cross_entropy")
        grad_fns = {
            "autodiff": jax.grad(lambda p, x, y: F.softmax_cross_entropy(net.apply(p, x), y)),
            "bridge": jax.grad(bridged),
            "manual": lambda p, x, y: manual_vg(p, x, y)[1],
        }

        def train_all(params0, x, y):
            out = {}
            for name, grad_fn in grad_fns.items():
                p, s = params0, opt.init(params0)
                for _ in range(5):
                    updates, s = opt.update(grad_fn(p, x, y), s, p)
                    p = optax.apply_updates(p, updates)
                out[name] = p
            return out

        out = once(train_all, params0, x, y)
        assert not np.allclose(out["autodiff"][0]["w"], params0[0]["w"])  # it did train
        close(out["bridge"], out["autodiff"], rtol=1e-10, atol=1e-12)
        close(out["manual"], out["autodiff"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss, scale", [("mse", "mean"), ("sum_squared_error", "sum")])
def test_vmap_per_example_gradients_sum_to_the_batch_gradient(loss, scale):
    with jax.enable_x64(True):
        net = F.mlp([4, 6, 2], "softplus")
        d = draws(33)
        params, x, y = gc.nontrivial_params(net, d), d.normal((9, 4)), d.normal((9, 2))
        bridged = bp.bridge(net, loss)
        auto = lambda p, xi, yi: F.LOSSES[loss](net.apply(p, xi), yi)

        def everything(params, x, y):
            per_example = jax.vmap(jax.grad(bridged), in_axes=(None, 0, 0))(
                params, x[:, None, :], y[:, None, :]
            )
            ref = jax.vmap(jax.grad(auto), in_axes=(None, 0, 0))(
                params, x[:, None, :], y[:, None, :]
            )
            return per_example, jax.grad(bridged)(params, x, y), ref

        per_example, batch, ref = once(everything, params, x, y)
        assert per_example[0]["w"].shape == (9, 4, 6)
        # The mean loss over B examples has gradient (1/B) sum_i g_i; the summed loss, sum_i g_i.
        n = 9 if scale == "mean" else 1
        close(jax.tree_util.tree_map(lambda g: np.asarray(g).sum(0) / n, per_example), batch)
        close(per_example, ref)
