"""Hand-written backprop: every block against autodiff, the delta recursion, the closed forms,
the custom_vjp bridge, and every model x activation x loss against jax.grad and finite
differences (float64 to 1e-10, float32 to 1e-4).

Speed: each test computes everything it compares in one compiled program (``_once``); eager
float64 ops would compile one tiny program per op and shape.
"""

import ast
import functools
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.activations import ACTIVATIONS, get_activation

# --- every model x activation x loss (the gradcheck table, computed once per dtype) ---------

CASES = gc.cases()
CASE_IDS = [f"{c.model}-{c.activation}-{c.loss}".replace(" ", "_") for c in CASES]
TOL = {"float64": (1e-10, 1e-6), "float32": (1e-4, 1e-4)}  # (vs jax.grad, vs finite diffs)


@functools.cache
def _reports(dtype):
    # Finite differences are float64 whatever the dtype under test: run them once, with float64.
    return dict(zip(CASE_IDS, gc.run_cases(CASES, dtype, seed=0, fd=dtype == "float64")))


def test_cases_cover_every_model_activation_and_loss():
    models = {c.group for c in CASES}
    assert set(F.MODELS) <= models
    assert {"parametric_nw", "nadaraya_watson", "dot_product_attention"} <= models
    mlp = {(c.activation, c.loss) for c in CASES if c.model == "mlp"}
    assert mlp == {(a, l) for a in ACTIVATIONS for l in F.LOSSES}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_manual_equals_autodiff_and_finite_differences(case_id, dtype):
    report = _reports(dtype)[case_id]
    rtol, fd_rtol = TOL[dtype]
    assert report.dtype == dtype
    for row in report.rows:
        assert "structure mismatch" not in row.note, row
        assert row.max_rel_err <= rtol, str(report)
        if not CASES[CASE_IDS.index(case_id)].fd:  # truncated BPTT: vs jax.grad only
            assert row.max_rel_err_fd is None, row
        elif dtype == "float64":
            assert row.max_rel_err_fd is not None and row.max_rel_err_fd <= fd_rtol, str(report)
            # every entry of a small leaf, 32 sampled entries of a larger one
            assert row.fd_coords == min(int(np.prod(row.shape)), 32), row
    scales = [row.grad_scale for row in report.rows]
    if case_id.startswith("perceptron"):
        assert scales == [0.0] * len(scales)  # the step: zero gradient everywhere, by design
    else:
        assert max(scales) > 1e-3, "a case whose gradient is zero checks nothing"


# --- helpers ------------------------------------------------------------------------------------


def _once(fn, *args):
    """``fn(*args)`` as one compiled program."""
    return gc.compile_once(fn, *args)(*args)


def _draws(seed, dtype=jnp.float64):
    return gc.Draws(jax.random.key(seed), dtype)


def _close(a, b, rtol=1e-12, atol=1e-14):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    jax.tree_util.tree_map(
        lambda u, v: np.testing.assert_allclose(u, v, rtol=rtol, atol=atol), a, b
    )


# --- blocks against jax.vjp ----------------------------------------------------------------------


def test_dense_backward_is_the_transposed_lecture_formula():
    with jax.enable_x64(True):
        d = _draws(0)
        params = {"w": d.normal((5, 3)), "b": d.normal((3,))}
        z_prev, delta = d.normal((4, 5)), d.normal((4, 3))

        def both(params, z_prev, delta):
            a, cache = bp.dense_forward(params, z_prev)
            grads, dz_prev = bp.dense_backward(params, cache, delta)
            _, vjp = jax.vjp(F.dense_apply, params, z_prev)
            return (a, grads, dz_prev), (F.dense_apply(params, z_prev), *vjp(delta))

        ours, ref = _once(both, params, z_prev, delta)
        _close(ours, ref)
        # The notes' dL/dW_j = sum_i delta_j z_{j-1}^T is our dw transposed.
        notes_dW = np.einsum("bo,bi->oi", np.asarray(delta), np.asarray(z_prev))
        _close(ours[1]["w"], notes_dW.T)


def test_absorbed_bias_backward_equals_split_form_and_vjp():
    with jax.enable_x64(True):
        d = _draws(1)
        params = {"w": d.normal((5, 3)), "b": d.normal((3,))}
        z_prev, delta = d.normal((4, 5)), d.normal((4, 3))

        def all_forms(params, z_prev, delta):
            tilde = F.absorb_bias(params)
            a, cache = bp.dense_absorbed_forward(tilde, z_prev)
            g_tilde, dz = bp.dense_absorbed_backward(tilde, cache, delta)
            g, dz_split = bp.dense_backward(params, bp.DenseCache(z_prev), delta)
            _, vjp = jax.vjp(F.dense_absorbed_apply, tilde, z_prev)
            return a, F.dense_apply(params, z_prev), g_tilde, g, dz, dz_split, vjp(delta)

        a, a_split, g_tilde, g, dz, dz_split, (ref_g, ref_dz) = _once(
            all_forms, params, z_prev, delta
        )
        _close(a, a_split)
        _close(g_tilde["w"], np.concatenate([g["w"], g["b"][None, :]], axis=0))
        _close(dz, dz_split)
        _close((g_tilde, dz), (ref_g, ref_dz))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_vjp(name):
    with jax.enable_x64(True):
        a = jnp.linspace(-3.0, 3.0, 12)  # not 0: the kinks are tested on their own below
        dz = jnp.linspace(0.5, 2.0, 12)

        def both(a, dz):
            z, cache = bp.activation_forward(name, a)
            f, vjp = jax.vjp(get_activation(name).f, a)
            return (z, bp.activation_backward(name, cache, dz)), (f, vjp(dz)[0])

        ours, ref = _once(both, a, dz)
        _close(ours, ref)


def test_kink_conventions_at_exact_zero_agree_with_autodiff():
    """At an exactly zero pre-activation ReLU' = 0, leaky ReLU' = 0.01, step' = 0; |w|' = +1.
    Networks whose hidden pre-activations are all exactly 0 get the same gradients both ways."""
    kinked = ("relu", "leaky_relu", "heaviside")
    with jax.enable_x64(True):
        d = _draws(2)
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

        out = _once(everything, zero_hidden, x, y)
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


def test_autodiff_of_core_softplus_at_exactly_zero():
    # softplus'(0) = sigmoid(0) = 1/2: the manual derivative and jax.grad agree at the origin.
    with jax.enable_x64(True):
        assert float(jax.grad(F.activations.softplus)(0.0)) == 0.5
        assert float(F.activations.d_softplus(jnp.zeros(()))) == 0.5


def test_dropout_and_softmax_backwards_match_vjp():
    with jax.enable_x64(True):
        d = _draws(3)
        mask = jnp.asarray(d.bernoulli((4, 6), 0.5) / 0.5)
        z, dout = d.normal((4, 6)), d.normal((4, 6))
        s, dp = d.normal((3, 5)), d.normal((3, 5))

        def both(mask, z, dout, s, dp):
            out, cached = bp.dropout_forward(z, mask)
            _, vjp_drop = jax.vjp(lambda z: z * mask, z)
            p, vjp_soft = jax.vjp(F.softmax, s)
            ours = (out, bp.dropout_backward(cached, dout), bp.softmax_backward(p, dp))
            return ours, (z * mask, vjp_drop(dout)[0], vjp_soft(dp)[0])

        ours, ref = _once(both, mask, z, dout, s, dp)
        _close(ours, ref)
        assert np.all(np.asarray(ours[1])[np.asarray(mask) == 0] == 0)
        assert bp.dropout_forward(z, None) == (z, None)


def _loss_targets(name, d):
    if name == "softmax_cross_entropy":
        return [d.randint((6,), 4), F.softmax(d.normal((6, 4)))]
    if name == "binary_cross_entropy":
        return [d.uniform((6, 4))]
    return [d.normal((6, 4))]


@pytest.mark.parametrize("name", sorted(F.LOSSES))
def test_loss_backward_matches_autodiff(name):
    with jax.enable_x64(True):
        d = _draws(4)
        o = d.normal((6, 4), 3.0)
        for y in _loss_targets(name, d):
            labels = jnp.issubdtype(y.dtype, jnp.integer)

            def both(o, y, labels=labels):
                value, cache = bp.loss_forward(name, o, y)
                do, dy = bp.loss_backward(name, cache, 2.0)  # an incoming cotangent g = 2
                ref_do = 2.0 * jax.grad(F.LOSSES[name])(o, y)
                ref_dy = None if labels else 2.0 * jax.grad(F.LOSSES[name], argnums=1)(o, y)
                return (value, do, dy), (F.LOSSES[name](o, y), ref_do, ref_dy)

            ours, ref = _once(both, o, y)
            _close(ours, ref)
            assert (ours[2] is None) == labels


def test_loss_backwards_are_the_notes_formulas():
    with jax.enable_x64(True):
        o = _draws(5).normal((6, 4))
        labels = jnp.array([0, 1, 2, 3, 0, 1])
        y = F.one_hot(labels, 4, jnp.float64)

        def grads(o, labels, y):
            out = {}
            for name, target in (
                ("softmax_cross_entropy", labels),
                ("binary_cross_entropy", y),
                ("sum_squared_error", y),
                ("mse", y),
            ):
                out[name] = bp.loss_backward(name, bp.loss_forward(name, o, target)[1])[0]
            return out

        got = _once(grads, o, labels, y)
        o, y = np.asarray(o), np.asarray(y)
        softmax = np.exp(o) / np.exp(o).sum(1, keepdims=True)
        _close(got["softmax_cross_entropy"], (softmax - y) / 6)  # the digest, section 4
        _close(got["binary_cross_entropy"], (1 / (1 + np.exp(-o)) - y) / 6)
        _close(got["sum_squared_error"], 2 * (o - y))  # the lecture: 2 (z_J - y)
        _close(got["mse"], (o - y) / 6)  # the digest, eq. 7


def test_penalty_backwards_match_autodiff():
    with jax.enable_x64(True):
        params = gc.nontrivial_params(F.mlp([3, 4, 2], "tanh"), _draws(6))
        params[0]["w"] = params[0]["w"].at[0, 0].set(0.0)  # |w| at its kink

        def both(params):
            ours = (
                bp.l2_penalty_backward(params),
                bp.l1_penalty_backward(params),
                bp.l2_penalty_forward(params),
                bp.l1_penalty_forward(params),
            )
            ref = (
                jax.grad(F.l2_penalty)(params),
                jax.grad(F.l1_penalty)(params),
                F.l2_penalty(params),
                F.l1_penalty(params),
            )
            return ours, ref

        ours, ref = _once(both, params)
        _close(ours, ref)
        for layer in ours[0]:  # biases are not penalized
            assert not np.any(np.asarray(layer["b"]))


# --- the MLP: forward == model.apply, the delta recursion, value_and_grad ----------------------

NET = F.mlp([5, 6, 4, 3], ["tanh", "relu"], dropout=[0.5, 0.25])
B = 7


@functools.cache
def _net_data(dtype=jnp.float64, seed=11):
    """Params (ReLU layer moved off its kink), x, labels and a dropout key; shared by tests."""
    with jax.enable_x64(dtype == jnp.float64):
        d = _draws(seed, dtype)
        params, x, key = gc.nontrivial_params(NET, d), d.normal((B, 5)), jax.random.key(seed)
        params = _once(lambda p, x, k: gc.move_off_kinks(NET, p, x, key=k), params, x, key)
        return params, x, d.randint((B,), 3), key


def test_mlp_forward_reproduces_apply_and_its_dropout_masks():
    with jax.enable_x64(True):
        params, x, _, key = _net_data()

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

        r = _once(forwards, params, x, key)
        np.testing.assert_array_equal(r["out"], r["train"])
        jax.tree_util.tree_map(np.testing.assert_array_equal, list(r["masks"]), r["ref_masks"])
        assert any(np.any(np.asarray(m) == 0) for m in r["masks"])  # something was dropped
        np.testing.assert_array_equal(r["out_masks"], r["out"])
        np.testing.assert_array_equal(r["out_eval"], r["eval"])
        assert r["eval_masks"] == (None, None)


def _shifted_loss(net, params, x, loss, y, masks):
    """L as a function of an additive shift of each pre-activation a_j: its gradient at 0
    is dL/da_j, the lecture's delta_j, computed by autodiff."""

    def f(shifts):
        z = x
        for j, (layer, act) in enumerate(zip(params, net.layer_activations)):
            a = z @ layer["w"] + layer["b"][None, :] + shifts[j]
            z = get_activation(act).f(a)
            if j < net.n_layers - 1 and masks[j] is not None:
                z = z * masks[j]
        return F.LOSSES[loss](z, y)

    return f


def test_deltas_are_dL_da_per_layer():
    loss = "softmax_cross_entropy"
    with jax.enable_x64(True):
        params, x, y, key = _net_data()

        def everything(params, x, y, key):
            out, cache = bp.mlp_forward(NET, params, x, key)
            dout, _ = bp.loss_backward(loss, bp.loss_forward(loss, out, y)[1])
            grads, dx, deltas = bp.mlp_backward(NET, params, cache, dout)
            zeros = [jnp.zeros((B, n), x.dtype) for n in NET.sizes[1:]]
            ref_deltas = jax.grad(_shifted_loss(NET, params, x, loss, y, cache.masks))(zeros)
            ref_dx = jax.grad(
                lambda x: F.softmax_cross_entropy(NET.apply(params, x, key=key, train=True), y)
            )(x)
            return grads, dx, deltas, cache.z_prev, ref_deltas, ref_dx

        grads, dx, deltas, z_prev, ref_deltas, ref_dx = _once(everything, params, x, y, key)
        assert [d.shape for d in deltas] == [(B, n) for n in NET.sizes[1:]]
        _close(list(deltas), ref_deltas)
        _close(dx, ref_dx)
        for j in range(NET.n_layers):  # dL/dW_j = delta_j z_{j-1}^T, in row layout
            _close(grads[j]["w"], np.asarray(z_prev[j]).T @ np.asarray(deltas[j]))


def test_lecture_delta_J_for_the_summed_squared_error():
    """delta_J = 2 (z_J - y) o sigma'_J and delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j."""
    with jax.enable_x64(True):
        net = F.mlp([4, 5, 3], "sigmoid", output_activation="sigmoid")
        d = _draws(14)
        params, x, y = gc.nontrivial_params(net, d), d.normal((6, 4)), d.normal((6, 3))

        def run(params, x, y):
            out, cache = bp.mlp_forward(net, params, x)
            dout = bp.loss_backward(
                "sum_squared_error", bp.loss_forward("sum_squared_error", out, y)[1]
            )[0]
            return out, cache.a, bp.mlp_backward(net, params, cache, dout)[2]

        out, a, deltas = _once(run, params, x, y)
        s = 1 / (1 + np.exp(-np.asarray(a[1])))
        _close(deltas[1], 2.0 * (np.asarray(out) - np.asarray(y)) * s * (1 - s))
        s1 = 1 / (1 + np.exp(-np.asarray(a[0])))
        _close(deltas[0], (np.asarray(deltas[1]) @ np.asarray(params[1]["w"]).T) * s1 * (1 - s1))


def test_value_and_grad_under_jit_has_params_structure_and_value():
    params, x, y, key = _net_data(jnp.float32)
    vg = bp.value_and_grad(NET, "softmax_cross_entropy", l2=0.05, l1=0.01)

    def ref_loss(p):
        out = NET.apply(p, x, key=key, train=True)
        return F.softmax_cross_entropy(out, y) + 0.05 * F.l2_penalty(p) + 0.01 * F.l1_penalty(p)

    (value, grads), (ref_value, ref_grads) = _once(
        lambda p: (vg(p, x, y, key), jax.value_and_grad(ref_loss)(p)), params
    )
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(grads))
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    rows = gc.compare_grads(grads, ref_grads, rtol=1e-4)
    assert all(r.passed for r in rows), rows


def test_value_and_grad_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match="valid names are"):
        bp.value_and_grad(NET, "hinge")
    with pytest.raises(TypeError, match="no hand-written backprop is registered for function"):
        bp.value_and_grad(lambda p, x: x, "mse")
    with pytest.raises(TypeError, match="model must be a funcnn MLP"):
        bp.mlp_forward(F.blocks.serial(F.blocks.Dense(5, 3)), [], jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        bp.value_and_grad(NET, "mse", l2=-1.0)
    params, x, y, key = _net_data(jnp.float32)
    f = bp.value_and_grad(NET, "softmax_cross_entropy")
    shapes = jax.eval_shape  # the checks run at trace time: nothing needs to execute
    with pytest.raises(ValueError, match="params must be a list of 3"):
        shapes(f, params[:2], x, y)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 5\)"):
        shapes(f, params, x[:, :4], y)
    with pytest.raises(ValueError, match="same batch size"):
        shapes(f, params, x, y[:3])
    _, cache = shapes(lambda p, x: bp.mlp_forward(NET, p, x), params, x)
    with pytest.raises(ValueError, match="dout must have the output's shape"):
        bp.mlp_backward(NET, params, cache, jnp.zeros((B, 2)))
    with pytest.raises(ValueError, match="not both"):
        shapes(lambda p, x: bp.mlp_forward(NET, p, x, key, masks=[None, None]), params, x)
    with pytest.raises(ValueError, match="one mask"):
        shapes(lambda p, x: bp.mlp_forward(NET, p, x, masks=[None]), params, x)


# --- closed forms of the digest ----------------------------------------------------------------


def test_closed_forms_equal_the_composed_backward():
    with jax.enable_x64(True):
        d = _draws(18)
        lin, soft, logi = (
            F.linear_regression(3, 2),
            F.softmax_regression(3, 4),
            F.logistic_regression(3),
        )
        p_lin, p_soft, p_logi = (gc.nontrivial_params(m, d) for m in (lin, soft, logi))
        x, y = d.normal((10, 3)), d.normal((10, 2))
        labels = d.randint((10,), 4)
        y01 = jnp.asarray(d.bernoulli((10, 1)), jnp.float64)
        lr, lam = 0.03, 0.1

        def everything(p_lin, p_soft, p_logi, x, y, labels, y01):
            return dict(
                lin=(
                    bp.linear_regression_grads(p_lin, x, y),
                    bp.value_and_grad(lin, "mse")(p_lin, x, y)[1],
                ),
                soft=(
                    bp.softmax_regression_grads(p_soft, x, labels),
                    bp.value_and_grad(soft, "softmax_cross_entropy")(p_soft, x, labels)[1],
                ),
                soft_onehot=(
                    bp.softmax_regression_grads(p_soft, x, F.one_hot(labels, 4, x.dtype)),
                    bp.value_and_grad(soft, "softmax_cross_entropy")(p_soft, x, labels)[1],
                ),
                logi=(
                    bp.logistic_regression_grads(p_logi, x, y01),
                    bp.value_and_grad(logi, "binary_cross_entropy")(p_logi, x, y01)[1],
                ),
                sgd=bp.linear_regression_sgd_update(p_lin, x, y, lr, weight_decay=lam),
            )

        r = _once(everything, p_lin, p_soft, p_logi, x, y, labels, y01)
        for name in ("lin", "soft", "soft_onehot", "logi"):
            _close(*r[name])
        # The digest's minibatch update, written with its sum over the examples:
        w, b = np.asarray(p_lin[0]["w"]), np.asarray(p_lin[0]["b"])
        xs, ys = np.asarray(x), np.asarray(y)
        residual = xs @ w + b[None, :] - ys
        sum_x_res = sum(np.outer(xs[i], residual[i]) for i in range(10))
        _close(r["sgd"][0]["w"], (1 - lr * lam) * w - lr / 10 * sum_x_res)
        _close(r["sgd"][0]["b"], b - lr / 10 * residual.sum(0))


# --- attention pooling --------------------------------------------------------------------------


def test_parametric_nw_with_vector_values_matches_autodiff():
    with jax.enable_x64(True):
        d = _draws(25)
        q, k = d.uniform((6,), 0, 5), d.uniform((7,), 0, 5)
        v, dout = d.normal((7, 2)), d.normal((6, 2))
        params = {"w": jnp.asarray(1.3)}

        def both(params, q, k, v, dout):
            out, cache = bp.parametric_nw_forward(params, q, k, v)
            f, vjp = jax.vjp(lambda p, q, k, v: F.parametric_nw_apply(p, q, k, v), params, q, k, v)
            return (out, bp.parametric_nw_backward(params, cache, dout)), (f, vjp(dout))

        ours, ref = _once(both, params, q, k, v, dout)
        _close(ours[0], ref[0])
        _close(tuple(ours[1]), tuple(ref[1]))


def test_dot_product_attention_masked_keys_get_no_gradient():
    with jax.enable_x64(True):
        d = _draws(26)
        q, k = d.normal((2, 3, 4)), d.normal((2, 5, 4))
        v, dout = d.normal((2, 5, 2)), d.normal((2, 3, 2))
        valid = jnp.array([[2, 3, 0], [5, 1, 4]])  # per query; query (0, 2) sees no key

        def both(q, k, v, dout):
            out, cache = bp.dot_product_attention_forward(q, k, v, valid_lens=valid)
            _, vjp = jax.vjp(
                lambda q, k, v: F.dot_product_attention(q, k, v, valid_lens=valid), q, k, v
            )
            return out, bp.dot_product_attention_backward(cache, dout), vjp(dout)

        out, (dq, dk, dv), ref = _once(both, q, k, v, dout)
        _close((dq, dk, dv), tuple(ref))
        np.testing.assert_array_equal(dk[0, 3:], 0.0)  # keys 3, 4 of batch 0: never attended
        np.testing.assert_array_equal(dv[0, 3:], 0.0)
        np.testing.assert_array_equal(dq[0, 2], 0.0)  # the fully masked query
        np.testing.assert_array_equal(out[0, 2], 0.0)


# --- the custom_vjp bridge ---------------------------------------------------------------------


def test_bridge_grad_is_the_manual_gradient():
    with jax.enable_x64(True):
        params, x, y, key = _net_data()
        reg = F.mlp([5, 6, 3], "tanh")
        d = _draws(28)
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

        bridged, direct, reg_bridged, reg_auto = _once(everything, params, x, y, key, p_reg, y_reg)
        jax.tree_util.tree_map(np.testing.assert_array_equal, bridged, direct)
        # Inputs and float targets get the hand-written cotangents too.
        _close(reg_bridged, reg_auto)


def test_optax_training_with_manual_gradients_equals_autodiff():
    with jax.enable_x64(True):
        net = F.mlp([5, 8, 3], "tanh")
        d = _draws(30)
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

        out = _once(train_all, params0, x, y)
        assert not np.allclose(out["autodiff"][0]["w"], params0[0]["w"])  # it did train
        _close(out["bridge"], out["autodiff"], rtol=1e-10, atol=1e-12)
        _close(out["manual"], out["autodiff"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss, scale", [("mse", "mean"), ("sum_squared_error", "sum")])
def test_vmap_per_example_gradients_sum_to_the_batch_gradient(loss, scale):
    with jax.enable_x64(True):
        net = F.mlp([4, 6, 2], "softplus")
        d = _draws(33)
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

        per_example, batch, ref = _once(everything, params, x, y)
        assert per_example[0]["w"].shape == (9, 4, 6)
        # The mean loss over B examples has gradient (1/B) sum_i g_i; the summed loss, sum_i g_i.
        n = 9 if scale == "mean" else 1
        _close(jax.tree_util.tree_map(lambda g: np.asarray(g).sum(0) / n, per_example), batch)
        _close(per_example, ref)


# --- autodiff is the reference, never the implementation ---------------------------------------

FORBIDDEN = {"grad", "vjp", "jvp", "value_and_grad", "linearize", "jacfwd", "jacrev", "hessian"}


def _autodiff_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN:
            base = node.value
            name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
            if name in {"jax", "api", "ad"}:
                found.append(f"{name}.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jax"):
            found += [
                f"from {node.module} import {a.name}" for a in node.names if a.name in FORBIDDEN
            ]
    return found


def test_scanner_finds_autodiff_calls():
    assert _autodiff_uses("import jax\ng = jax.grad(f)\n")
    assert _autodiff_uses("from jax import value_and_grad\n")
    assert _autodiff_uses("import jax\njax.vjp(f, x)\n")
    assert _autodiff_uses("import jax\nfrom jax import linearize as lin\n")
    assert not _autodiff_uses("def value_and_grad(model, loss):\n    return model\n")


def test_backprop_package_never_calls_jax_autodiff():
    root = pathlib.Path(bp.__file__).parent
    files = sorted(root.glob("*.py"))
    assert {f.name for f in files} >= {
        "__init__.py",
        "dense.py",
        "losses.py",
        "registry.py",
        "serial.py",
        "mlp.py",
        "attention.py",
        "bridge.py",
    }
    for f in files:
        assert _autodiff_uses(f.read_text()) == [], f


def test_penalty_coefficients_may_be_traced():
    # A grid over lambda under vmap: each traced l2 gives the gradient of its own objective.
    net = F.mlp([3, 4, 2], "tanh")
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 3))
    y = jax.random.normal(jax.random.key(2), (5, 2))
    lams = jnp.array([0.0, 0.3])
    grads = jax.vmap(lambda lam: bp.value_and_grad(net, "mse", l2=lam, l1=lam)(params, x, y)[1])(
        lams
    )
    for i, lam in enumerate([0.0, 0.3]):
        ref = jax.grad(
            lambda p, lam=lam: (
                F.mse(net.apply(p, x), y) + lam * F.l2_penalty(p) + lam * F.l1_penalty(p)
            )
        )(params)
        got = jax.tree_util.tree_map(lambda g, i=i: g[i], grads)
        jax.tree_util.tree_map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got, ref
        )
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0; got -1.0"):
        bp.value_and_grad(net, "mse", l2=jnp.asarray(-1.0))
