"""funcnn.backprop.value_and_grad: the hand-written loss-and-gradient of any model, with
penalties, under jit and vmap, and its errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from tests.backprop.nets import NET, SERIAL, net_data
from tests.helpers import draws, once


def test_value_and_grad_under_jit_has_params_structure_and_value():
    params, x, y, key = net_data(jnp.float32)
    vg = bp.value_and_grad(NET, "softmax_cross_entropy", l2=0.05, l1=0.01)

    def ref_loss(p):
        out = NET.apply(p, x, key=key, train=True)
        return F.softmax_cross_entropy(out, y) + 0.05 * F.l2_penalty(p) + 0.01 * F.l1_penalty(p)

    (value, grads), (ref_value, ref_grads) = once(
        lambda p: (vg(p, x, y, key), jax.value_and_grad(ref_loss)(p)), params
    )
    chex.assert_trees_all_equal_shapes_and_dtypes(grads, params)
    chex.assert_tree_all_finite(grads)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    rows = gc.compare_grads(grads, ref_grads, rtol=1e-4)
    assert all(r.passed for r in rows), rows


@pytest.mark.parametrize("loss, l2, l1", [("softmax_cross_entropy", 0.1, 0.01), ("mse", 0.0, 0.0)])
def test_value_and_grad_of_a_plain_composition_equals_autodiff(loss, l2, l1):
    with jax.enable_x64(True):
        d = draws(41)
        params = gc.nontrivial_params(SERIAL, d)
        x = d.normal((6, 4))
        y = d.randint((6,), 3) if loss == "softmax_cross_entropy" else d.normal((6, 3))
        key = jax.random.key(41)
        manual = bp.value_and_grad(SERIAL, loss, l2=l2, l1=l1)

        def objective(p, x, y, key):
            value = F.LOSSES[loss](SERIAL.apply(p, x, key=key, train=key is not None), y)
            return value + l2 * F.l2_penalty(p) + l1 * F.l1_penalty(p)

        def both(p, x, y, key):
            return {
                mode: (manual(p, x, y, k), jax.value_and_grad(objective)(p, x, y, k))
                for mode, k in (("train", key), ("eval", None))
            }

        for mode, ((value, grads), (ref_value, ref_grads)) in once(both, params, x, y, key).items():
            chex.assert_trees_all_equal_shapes_and_dtypes(grads, params)
            np.testing.assert_allclose(value, ref_value, rtol=1e-13)
            rows = gc.compare_grads(grads, ref_grads, rtol=1e-10)
            assert all(r.passed for r in rows), (mode, [r for r in rows if not r.passed])


def test_value_and_grad_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match="valid names are"):
        bp.value_and_grad(NET, "hinge")
    with pytest.raises(TypeError, match="no hand-written backprop is registered for function"):
        bp.value_and_grad(lambda p, x: x, "mse")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        bp.value_and_grad(NET, "mse", l2=-1.0)
    params, x, y, key = net_data(jnp.float32)
    f = bp.value_and_grad(NET, "softmax_cross_entropy")
    shapes = jax.eval_shape  # the checks run at trace time: nothing needs to execute
    with pytest.raises(ValueError, match="params must be a list of 3"):
        shapes(f, params[:2], x, y)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 5\)"):
        shapes(f, params, x[:, :4], y)
    with pytest.raises(ValueError, match="same batch size"):
        shapes(f, params, x, y[:3])


def test_penalty_coefficients_may_be_traced():
    # A grid over lambda under vmap: each traced l2 gives the gradient of its own objective.
    net = F.mlp([3, 4, 2], "tanh")
    d = draws(42, jnp.float32)
    params, x, y = gc.nontrivial_params(net, d), d.normal((5, 3)), d.normal((5, 2))
    lams = (0.0, 0.3)

    def both(params, x, y):
        grid = jax.vmap(lambda lam: bp.value_and_grad(net, "mse", l2=lam, l1=lam)(params, x, y)[1])(
            jnp.array(lams)
        )
        refs = [
            jax.grad(
                lambda p, lam=lam: (
                    F.mse(net.apply(p, x), y) + lam * F.l2_penalty(p) + lam * F.l1_penalty(p)
                )
            )(params)
            for lam in lams
        ]
        return grid, refs

    grid, refs = once(both, params, x, y)
    for i, ref in enumerate(refs):
        got = jax.tree_util.tree_map(lambda g, i=i: g[i], grid)
        chex.assert_trees_all_close(got, ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(refs[0][0]["w"], refs[1][0]["w"])  # the penalty mattered
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0; got -1.0"):
        bp.value_and_grad(net, "mse", l2=jnp.asarray(-1.0))
