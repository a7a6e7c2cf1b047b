"""funcnn.backprop.mlp: the lecture's delta recursion for dense networks — its forward is the
model's, its deltas are dL/da_j, its lines are the lecture's, and it gives exactly the
generic recursion's numbers."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.blocks import Dense
from tests.backprop.nets import NET, B, net_data
from tests.helpers import close, draws, once


def test_mlp_forward_reproduces_apply_and_its_dropout_masks():
    with jax.enable_x64(True):
        params, x, _, key = net_data()

        def forwards(params, x, key):
            out, cache = bp.mlp_forward(NET, params, x, key)
            out_masks, _ = bp.mlp_forward(NET, params, x, masks=list(cache.masks))
            out_eval, cache_eval = bp.mlp_forward(NET, params, x)
            return dict(
                out=out,
                train=NET.apply(params, x, key=key, train=True),
                masks=cache.masks,
                ref_masks=NET.dropout_masks(key, B, x.dtype),
                out_masks=out_masks,
                out_eval=out_eval,
                eval=NET.apply(params, x),
                eval_masks=cache_eval.masks,
            )

        r = once(forwards, params, x, key)
        np.testing.assert_array_equal(r["out"], r["train"])
        jax.tree_util.tree_map(np.testing.assert_array_equal, list(r["masks"]), r["ref_masks"])
        assert any(np.any(np.asarray(m) == 0) for m in r["masks"])  # something was dropped
        np.testing.assert_array_equal(r["out_masks"], r["out"])
        np.testing.assert_array_equal(r["out_eval"], r["eval"])
        assert r["eval_masks"] == (None, None)


def _shifted_loss(net, params, x, loss, y, key):
    """L as a function of an additive shift of every pre-activation a_j (the output of each
    Dense block of ``net.serial``, run with the model's own keys): its gradient at 0 is
    dL/da_j, the lecture's delta_j, computed by autodiff."""

    def f(shifts):
        shift = iter(shifts)

        def step(block, p, z, k):
            z = block.apply(p, z, key=k, train=k is not None)
            return (z + next(shift) if isinstance(block, Dense) else z), None

        out, _ = net.serial.run(step, params, x, key)
        return F.LOSSES[loss](out, y)

    return f


def test_deltas_are_dL_da_per_layer():
    loss = "softmax_cross_entropy"
    with jax.enable_x64(True):
        params, x, y, key = net_data()

        def everything(params, x, y, key):
            out, cache = bp.mlp_forward(NET, params, x, key)
            dout, _ = bp.loss_backward(loss, bp.loss_forward(loss, out, y)[1])
            grads, dx, deltas = bp.mlp_backward(NET, params, cache, dout)
            zeros = [jnp.zeros((B, n), x.dtype) for n in NET.sizes[1:]]
            ref_deltas = jax.grad(_shifted_loss(NET, params, x, loss, y, key))(zeros)
            ref_dx = jax.grad(
                lambda x: F.softmax_cross_entropy(NET.apply(params, x, key=key, train=True), y)
            )(x)
            return grads, dx, deltas, cache.z_prev, ref_deltas, ref_dx

        grads, dx, deltas, z_prev, ref_deltas, ref_dx = once(everything, params, x, y, key)
        assert [d.shape for d in deltas] == [(B, n) for n in NET.sizes[1:]]
        close(list(deltas), ref_deltas)
        close(dx, ref_dx)
        for j in range(NET.n_layers):  # dL/dW_j = delta_j z_{j-1}^T, in row layout
            close(grads[j]["w"], np.asarray(z_prev[j]).T @ np.asarray(deltas[j]))
            close(grads[j]["b"], np.asarray(deltas[j]).sum(0))


def test_lecture_delta_J_for_the_summed_squared_error():
    """delta_J = 2 (z_J - y) o sigma'_J and delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j."""
    with jax.enable_x64(True):
        net = F.mlp([4, 5, 3], "sigmoid", output_activation="sigmoid")
        d = draws(14)
        params, x, y = gc.nontrivial_params(net, d), d.normal((6, 4)), d.normal((6, 3))

        def run(params, x, y):
            out, cache = bp.mlp_forward(net, params, x)
            dout = bp.loss_backward(
                "sum_squared_error", bp.loss_forward("sum_squared_error", out, y)[1]
            )[0]
            return out, cache.a, bp.mlp_backward(net, params, cache, dout)[2]

        out, a, deltas = once(run, params, x, y)
        s = 1 / (1 + np.exp(-np.asarray(a[1])))
        close(deltas[1], 2.0 * (np.asarray(out) - np.asarray(y)) * s * (1 - s))
        s1 = 1 / (1 + np.exp(-np.asarray(a[0])))
        close(deltas[0], (np.asarray(deltas[1]) @ np.asarray(params[1]["w"]).T) * s1 * (1 - s1))


# Every activation, hidden and at the output, with dropout after both hidden layers.
LECTURE_NETS = [
    F.mlp([5, 6, 4, 3], pair, output_activation=out, dropout=[0.5, 0.25])
    for pair, out in (
        (["tanh", "relu"], "identity"),
        (["gelu", "sigmoid"], "softplus"),
        (["softplus", "leaky_relu"], "sigmoid"),
        (["identity", "heaviside"], "tanh"),
    )
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lecture_form_gives_the_generic_recursion_s_numbers_bitwise(dtype):
    """mlp_backward (the lecture's three lines) and serial_backward over ``model.serial`` (the
    blocks' backwards in reverse) perform the same floating-point operations in the same
    order: measured equal bit for bit in float64 and float32, and asserted so."""
    with jax.enable_x64(True):
        d = draws(15, jnp.dtype(dtype))
        params = [gc.nontrivial_params(net, d) for net in LECTURE_NETS]
        x, dout, key = d.normal((B, 5)), d.normal((B, 3)), jax.random.key(15)

        def both(params, x, dout, key):
            out = []
            for net, p in zip(LECTURE_NETS, params):
                y, cache = bp.mlp_forward(net, p, x, key)
                grads, dx, _ = bp.mlp_backward(net, p, cache, dout)
                s_y, s_cache = bp.serial_forward(net.serial, p, x, key)
                s_grads, s_dx = bp.serial_backward(net.serial, p, s_cache, dout)
                out.append(((y, grads, dx), (s_y, s_grads, s_dx)))
            return out

        for lecture, generic in once(both, params, x, dout, key):
            chex.assert_trees_all_equal(lecture, generic)
            chex.assert_tree_all_finite(lecture)


def test_mlp_pair_rejects_other_models_and_bad_arguments():
    with pytest.raises(TypeError, match="model must be a funcnn MLP .* got Serial"):
        bp.mlp_forward(F.blocks.serial(F.blocks.Dense(5, 3)), [], jnp.ones((2, 5)))
    params, x, _, key = net_data(jnp.float32)
    shapes = jax.eval_shape  # the checks run at trace time: nothing needs to execute
    _, cache = shapes(lambda p, x: bp.mlp_forward(NET, p, x), params, x)
    with pytest.raises(ValueError, match="dout must have the output's shape"):
        bp.mlp_backward(NET, params, cache, jnp.zeros((B, 2)))
    with pytest.raises(ValueError, match="not both"):
        shapes(lambda p, x: bp.mlp_forward(NET, p, x, key, masks=[None, None]), params, x)
    with pytest.raises(ValueError, match="one mask"):
        shapes(lambda p, x: bp.mlp_forward(NET, p, x, masks=[None]), params, x)
    with pytest.raises(TypeError, match="key must be a jax.random.key"):
        bp.mlp_forward(NET, params, x, 0)
