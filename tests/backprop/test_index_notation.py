"""Backprop in the math paper's index notation (absorbed bias, einsum) against the matrix
form (``mlp_backward`` on the split parameters) and against ``jax.grad``, in float64.

Every comparison of a case runs as one compiled program (eager float64 ops would compile one
tiny program per op and shape).
"""

import ast
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.backprop import index_notation as ix
from funcnn.gradcheck.draws import targets
from funcnn.layers import absorb_bias, split_bias

# (sizes, hidden activations, output activation, loss): depths 1 to 4, every activation with
# a derivative, every loss.
CASES = {
    "1-layer-identity-mse": ([4, 3], [], "identity", "mse"),
    "2-layer-tanh-softmax_ce": ([4, 6, 3], ["tanh"], "identity", "softmax_cross_entropy"),
    "3-layer-relu-sigmoid-bce": (
        [4, 6, 5, 1],
        ["relu", "sigmoid"],
        "identity",
        "binary_cross_entropy",
    ),
    "4-layer-mixed-sse": (
        [4, 5, 5, 5, 2],
        ["gelu", "softplus", "leaky_relu"],
        "sigmoid",
        "sum_squared_error",
    ),
    "4-layer-deep_linear-mse": ([3, 4, 4, 4, 2], ["identity"] * 3, "identity", "mse"),
}
TOL = 1e-12  # max |index - reference| <= TOL * max(1, max |reference|), leaf by leaf


def _case(name, seed=0):
    sizes, hidden, out_act, loss = CASES[name]
    net = F.mlp(sizes, hidden, output_activation=out_act)
    d = gc.Draws(jax.random.key(seed), jnp.float64)
    params = gc.nontrivial_params(net, d)  # nonzero biases: a dropped constant would show
    x = d.normal((7, sizes[0]))
    y = targets(d, loss, 7, (sizes[-1],))
    return net, loss, [absorb_bias(p) for p in params], x, y


def _assert_close(got, ref, what):
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref), what
    for g, r in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
        g, r = np.asarray(g), np.asarray(r)
        assert g.shape == r.shape, what
        err = float(np.max(np.abs(g - r)))
        assert err <= TOL * max(1.0, float(np.max(np.abs(r)))), f"{what}: max abs error {err:.2e}"


@pytest.mark.parametrize("name", CASES)
def test_index_notation_equals_matrix_form_and_autodiff(name):
    with jax.enable_x64(True):
        net, loss, params, x, y = _case(name)

        def everything(params, x, y):
            # index notation, eqs. 2-7
            out, cache = ix.index_forward(net, params, x)
            value, lc = bp.loss_forward(loss, out, y)
            dL_do, _ = bp.loss_backward(loss, lc)
            grads, dx, deltas = ix.index_backward(net, params, cache, dL_do)
            # the matrix form on the split parameters: the lecture's delta recursion
            split = [split_bias(p) for p in params]
            out_m, cache_m = bp.mlp_forward(net, split, x)
            grads_m, dx_m, deltas_m = bp.mlp_backward(net, split, cache_m, dL_do)
            # autodiff of the model's own forward, through the split of the bias
            auto = jax.grad(lambda p: F.LOSSES[loss](net.apply([split_bias(q) for q in p], x), y))(
                params
            )
            auto_dx = jax.grad(lambda x: F.LOSSES[loss](net.apply(split, x), y))(x)
            vg = ix.index_value_and_grad(net, loss)(params, x, y)
            return {
                "out": (out, out_m, net.apply(split, x)),
                "value": (value, vg[0], F.LOSSES[loss](out_m, y)),
                "grads": (grads, [absorb_bias(g) for g in grads_m], auto, vg[1]),
                "dx": (dx, dx_m, auto_dx),
                "deltas": (deltas, deltas_m),
                "o_prev_last": [o[:, -1] for o in cache.o_prev],
            }

        r = gc.compile_once(everything, params, x, y)(params, x, y)
        for what in ("out", "value", "grads", "dx", "deltas"):
            got, *refs = r[what]
            for i, ref in enumerate(refs):
                _assert_close(got, ref, f"{name}: {what} vs reference {i}")
        assert [np.asarray(g["w"]).shape for g in r["grads"][0]] == [p["w"].shape for p in params]
        for ones in r["o_prev_last"]:  # "the last component of each layer always 1"
            np.testing.assert_array_equal(ones, 1.0)
        # the gradients are not trivially zero, so the comparisons above have content
        assert all(float(jnp.max(jnp.abs(g["w"][-1]))) > 1e-6 for g in r["grads"][0])


def test_bias_gradient_is_the_last_row_and_equals_the_summed_delta():
    # dL/dw_{i, n+1} = delta_i o_{n+1} = delta_i: the absorbed bias's gradient is sum_b delta.
    with jax.enable_x64(True):
        net, loss, params, x, y = _case("2-layer-tanh-softmax_ce", seed=3)

        def grads_and_deltas(params, x, y):
            out, cache = ix.index_forward(net, params, x)
            dL_do = bp.loss_backward(loss, bp.loss_forward(loss, out, y)[1])[0]
            grads, _, deltas = ix.index_backward(net, params, cache, dL_do)
            return grads, deltas

        grads, deltas = gc.compile_once(grads_and_deltas, params, x, y)(params, x, y)
        for g, delta in zip(grads, deltas):
            np.testing.assert_allclose(g["w"][-1], np.sum(delta, axis=0), rtol=1e-13, atol=0)


def test_bad_arguments_get_named_errors():
    net = F.mlp([4, 6, 3], "tanh")
    split = net.init(jax.random.key(0))
    params = [absorb_bias(p) for p in split]
    x = jnp.ones((5, 4))
    with pytest.raises(ValueError, match=r"Absorb the bias first.*absorb_bias"):
        ix.index_forward(net, split, x)
    bad = [params[0], {"w": params[1]["w"][:-1]}]
    with pytest.raises(ValueError, match=r"params\[1\]\['w'\] must have shape \(7, 3\)"):
        ix.index_forward(net, bad, x)
    with pytest.raises(ValueError, match="list of 2 absorbed-bias layers"):
        ix.index_forward(net, params[:1], x)
    with pytest.raises(TypeError, match="must be a funcnn MLP"):
        ix.index_forward(object(), params, x)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 4\)"):
        ix.index_forward(net, params, jnp.ones((5, 3)))
    _, cache = jax.eval_shape(lambda p, x: ix.index_forward(net, p, x), params, x)
    with pytest.raises(ValueError, match=r"dL_do must have the output's shape \(5, 3\)"):
        ix.index_backward(net, params, cache, jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="loss"):
        ix.index_value_and_grad(net, "hinge")


def test_the_module_is_the_papers_equations_and_never_calls_autodiff():
    source = inspect.getsource(ix)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert not (node.value.id == "jax" and node.attr in {"grad", "vjp", "jvp",
                        "value_and_grad", "linearize", "jacfwd", "jacrev"}), node.attr  # fmt: skip
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jax"):
            assert not {a.name for a in node.names} & {"grad", "vjp", "value_and_grad"}
    # net_i = w_ij o_j (eq. 2), w_ki delta_k (eqs. 6-7), delta_i o_j (eqs. 3-4), as einsums
    for spec in ('"ij,bj->bi"', '"ki,bk->bi"', '"bi,bj->ij"'):
        assert f"jnp.einsum({spec}" in source, spec
    for eq in ("(2)", "(3)", "(4)", "(6)", "(7)"):
        assert eq in ix.__doc__
