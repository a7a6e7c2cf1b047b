"""Layer-wise training and deep linear networks (funcnn.layerwise): step sizes alpha_j^(k),
the updates (u.1) and (u.2), exact block solves against a Kronecker-product least squares in
NumPy, factorizations of one map, and two global minimizers whose midpoint is not one."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnn as F
from funcnn import layerwise as lw
from funcnn.backprop import value_and_grad


def _data(sizes, n=40, seed=0, noise=0.1):
    """y = x M + 1/2 + noise, float64 (drawn with NumPy: eager jax.random is slow to compile)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, sizes[0]))
    y = x @ rng.normal(size=(sizes[0], sizes[-1])) + 0.5 + noise * rng.normal(size=(n, sizes[-1]))
    return jnp.asarray(x), jnp.asarray(y)


def _params(net, seed=1):
    """Weights ~ N(0, 1/n_in) and biases ~ N(0, 0.3^2): nonzero, so a dropped bias shows."""
    rng = np.random.default_rng(seed)
    return [
        {"w": jnp.asarray(rng.normal(size=(m, n)) / np.sqrt(m)),
         "b": jnp.asarray(0.3 * rng.normal(size=(n,)))}
        for m, n in zip(net.sizes, net.sizes[1:])
    ]  # fmt: skip


def _ls_loss(x, y):
    """L* = min over affine maps of (1/N) sum_i 1/2 ||x_i P + c - y_i||^2, in NumPy."""
    x1 = np.concatenate([np.asarray(x), np.ones((x.shape[0], 1))], axis=1)
    w = np.linalg.lstsq(x1, np.asarray(y), rcond=None)[0]
    return float(0.5 * np.mean(np.sum((x1 @ w - np.asarray(y)) ** 2, axis=1))), w


@functools.cache
def _vg(net):
    """The hand-written value_and_grad of the mse, compiled (eager float64 ops are slow)."""
    return jax.jit(value_and_grad(net, "mse"))


SOLVE = jax.jit(lw.solve_block, static_argnums=(0, 2))


def _max_abs(tree):
    return max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(tree))


# --- step sizes alpha_j^(k) ------------------------------------------------------------------


def test_step_sizes_number_schedule_per_layer_and_array():
    np.testing.assert_allclose(lw.step_sizes(0.1, 3), [0.1] * 3, rtol=1e-7)
    np.testing.assert_allclose(lw.step_sizes(lambda k: 1.0 / (k + 1), 2, k=3), [0.25] * 2)
    per_layer = [0.1, lambda k: 0.5 / jnp.sqrt(k + 1.0), 0.0]  # constant, 1/sqrt(k), frozen
    np.testing.assert_allclose(lw.step_sizes(per_layer, 3, k=8), [0.1, 0.5 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(lw.step_sizes(jnp.array([1.0, 2.0]), 2), [1.0, 2.0])
    # a traced k: schedules are evaluated inside the compiled program
    f = jax.jit(lambda k: lw.step_sizes([lambda k: 0.1 * 0.5**k, 0.2], 2, k))
    np.testing.assert_allclose(f(3), [0.0125, 0.2], rtol=1e-6)


@pytest.mark.parametrize(
    "alpha, error, match",
    [
        ([0.1, 0.2], ValueError, r"one step size or schedule per layer \(3\); got 2"),
        (-0.1, ValueError, r"alpha for params\[0\] must be a finite number >= 0; got -0.1"),
        ([0.1, float("nan"), 0.1], ValueError, r"alpha for params\[1\] must be a finite"),
        ([0.1, 0.1, lambda k: -1.0], ValueError, r"params\[2\] at step k must be a finite"),
        (lambda k: jnp.ones(3), TypeError, "must be a scalar step size"),
        (True, TypeError, r"alpha for params\[0\] must be a number >= 0; got True"),
        ("0.1", TypeError, "alpha must be a number, a schedule"),
        (jnp.ones(2), ValueError, r"shape \(\) or \(n_layers,\) = \(3,\)"),
    ],
)
def test_step_sizes_errors(alpha, error, match):
    with pytest.raises(error, match=match):
        lw.step_sizes(alpha, 3)


# --- (u.1) and (u.2) -------------------------------------------------------------------------

NET = F.deep_linear([3, 4, 4, 2])


@functools.cache
def _problem():
    with jax.enable_x64(True):
        x, y = _data(NET.sizes)
        return _params(NET), x, y


def _grad_fn(x, y):
    return lambda p: _vg(NET)(p, x, y)[1]


def test_update_blocks_all_one_and_some():
    with jax.enable_x64(True):
        params, x, y = _problem()
        grads = _grad_fn(x, y)(params)
        alpha = [0.1, 0.2, 0.3]

        def updates(p, g):
            return (
                lw.update_blocks(p, g, alpha),
                lw.update_blocks(p, g, alpha, blocks=1),
                lw.update_blocks(tuple(p), tuple(g), 0.1, blocks=[0, 2]),
            )

        every, one, some = jax.jit(updates)(params, grads)
        for j in range(3):
            for leaf in ("w", "b"):
                want = params[j][leaf] - alpha[j] * grads[j][leaf]  # W_j - alpha_j D_j (u.2)
                np.testing.assert_allclose(every[j][leaf], want, rtol=1e-15, atol=1e-15)
                want = params[j][leaf] - 0.1 * grads[j][leaf]
                np.testing.assert_allclose(some[j][leaf], want if j != 1 else params[j][leaf])
                np.testing.assert_array_equal(one[j][leaf], (every if j == 1 else params)[j][leaf])
        assert isinstance(some, tuple) and isinstance(every, list)


def test_block_updates_are_an_optax_updates_tree():
    with jax.enable_x64(True):
        params, x, y = _problem()
        grads = _grad_fn(x, y)(params)
        schedules = [lambda k: 0.1 / (k + 1.0), 0.2, lambda k: 0.3 * 0.5**k]
        updates = lw.block_updates(grads, schedules, k=1, blocks=[0, 2])
        for j, want in ((0, 0.05), (1, 0.0), (2, 0.15)):
            np.testing.assert_allclose(updates[j]["w"], -want * grads[j]["w"], rtol=1e-15)
        applied = optax.apply_updates(params, updates)
        direct = lw.update_blocks(params, grads, schedules, k=1, blocks=[0, 2])
        jax.tree.map(np.testing.assert_array_equal, applied, direct)
        with pytest.raises(TypeError, match="grads must be a list"):
            lw.block_updates({"w": grads[0]["w"]}, 0.1)


def test_simultaneous_step_is_gradient_descent_on_all_weights_at_one_point():
    with jax.enable_x64(True):
        params, x, y = _problem()

        def both(params):
            g = jax.grad(lambda p: F.mse(NET.apply(p, x), y))(params)
            want = jax.tree.map(lambda w, d: w - 0.05 * d, params, g)  # (u.1)
            return lw.simultaneous_step(_grad_fn(x, y), params, 0.05), want

        got, want = jax.jit(both)(params)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13), got, want)


def test_layerwise_sweep_takes_each_gradient_after_the_blocks_before_moved():
    with jax.enable_x64(True):
        params, x, y = _problem()
        autodiff = jax.grad(lambda p: F.mse(NET.apply(p, x), y))
        alpha = [0.1, 0.2, 0.3]

        def sweeps(params):
            out = []
            for order in (None, (2, 0, 1)):
                want = list(params)
                for j in order or range(3):  # Gauss-Seidel, written out with jax.grad
                    g = autodiff(want)
                    want[j] = jax.tree.map(lambda w, d, j=j: w - alpha[j] * d, want[j], g[j])
                got = lw.layerwise_sweep(_grad_fn(x, y), params, alpha, order=order)
                out.append((got, want))
            return out

        for got, want in jax.jit(sweeps)(params):
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), got, want)


def test_scale_by_layer_multiplies_each_blocks_update():
    with jax.enable_x64(True):
        params, x, y = _problem()
        grads = _grad_fn(x, y)(params)
        opt = optax.chain(optax.sgd(0.1), lw.scale_by_layer((1.0, 0.0, 0.5)))
        updates, _ = opt.update(grads, opt.init(params), params)
        want = lw.block_updates(grads, [0.1, 0.0, 0.05])  # alpha_j = c_j eta
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-15), updates, want)
        assert all(float(jnp.max(jnp.abs(u))) == 0.0 for u in jax.tree.leaves(updates[1]))


def test_by_block_keeps_a_state_per_block_and_updates_the_chosen_one():
    with jax.enable_x64(True):
        params, x, y = _problem()
        grads = _grad_fn(x, y)(params)
        opt = lw.by_block(optax.adam(0.1), (1.0, 2.0, 1.0))
        state = opt.init(params)
        assert len(state.blocks) == 3
        chex.assert_trees_all_equal(state.blocks[1][0].mu, jax.tree.map(jnp.zeros_like, params[1]))
        every, _ = opt.update(grads, state, params)  # block=None: (u.1), one point
        one, after = opt.update(grads, state, params, block=1)
        adam = optax.adam(0.1)
        want = [adam.update(g, adam.init(p), p)[0] for g, p in zip(grads, params)]
        want[1] = jax.tree.map(lambda u: 2.0 * u, want[1])
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14), every, want)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14), one[1], want[1])
        assert _max_abs([one[0], one[2]]) == 0.0
        assert [int(b[0].count) for b in after.blocks] == [0, 1, 0]  # only block 1 moved on


def test_optimizer_sweep_with_sgd_is_the_plain_layerwise_sweep():
    with jax.enable_x64(True):
        params, x, y = _problem()
        opt = lw.by_block(optax.sgd(0.1), (1.0, 2.0, 3.0))
        for order in (None, (2, 0, 1)):
            got, _ = lw.optimizer_sweep(_grad_fn(x, y), params, opt, opt.init(params), order=order)
            want = lw.layerwise_sweep(_grad_fn(x, y), params, [0.1, 0.2, 0.3], order=order)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14), got, want)


def test_per_layer_transforms_check_the_params_list():
    params, _, _ = _problem()
    with pytest.raises(
        ValueError, match="layer_lr has 2 entries but the model's params list has 3"
    ):
        lw.scale_by_layer((1.0, 1.0), name="layer_lr").init(params)
    with pytest.raises(ValueError, match=r"multipliers\[0\] must be a finite number >= 0"):
        lw.by_block(optax.sgd(0.1), (-1.0, 1.0, 1.0))
    with pytest.raises(TypeError, match="optimizer must be an optax.GradientTransformation"):
        lw.by_block(lambda g: g)
    with pytest.raises(TypeError, match="needs one optimizer state per block"):
        lw.optimizer_sweep(lambda p: p, params, optax.sgd(0.1), None)


def test_u1_and_u2_differ_at_second_order_in_the_step_size():
    # One update of each from the same point: equal to first order, so the difference is
    # O(alpha^2) and halving alpha divides it by 4. A sweep that reused the first gradient for
    # every block would give a difference of exactly 0.
    with jax.enable_x64(True):
        params, x, y = _problem()
        one_layer = F.deep_linear([3, 2])  # one block: (u.1) and (u.2) are the same update
        g1 = lambda p: value_and_grad(one_layer, "mse")(p, x, y[:, :2])[1]

        @jax.jit
        def diff(alpha):
            a = lw.simultaneous_step(_grad_fn(x, y), params, alpha)
            b = lw.layerwise_sweep(_grad_fn(x, y), params, alpha)
            p1 = _params(one_layer)
            a1, b1 = lw.simultaneous_step(g1, p1, alpha), lw.layerwise_sweep(g1, p1, alpha)
            return [jax.tree.map(jnp.subtract, u, v) for u, v in ((a, b), (a1, b1))]

        (d1, one_1), (d2, _) = diff(jnp.asarray(1e-3)), diff(jnp.asarray(5e-4))
        d1, d2 = _max_abs(d1), _max_abs(d2)
        assert d1 > 1e-9
        assert 3.9 < d1 / d2 < 4.1, (d1, d2)
        assert _max_abs(one_1) == 0.0


def test_a_sweep_with_a_schedule_compiles_once_for_every_k():
    params, x, y = jax.tree.map(lambda a: a.astype(jnp.float32), _problem())
    traces = []

    @jax.jit
    def sweep(p, k):
        traces.append(k)
        return lw.layerwise_sweep(_grad_fn(x, y), p, lambda k: 0.1 / (k + 1.0), k=k)

    p = params
    for k in range(3):
        p = sweep(p, k)
    assert len(traces) == 1
    losses = [float(F.mse(NET.apply(q, x), y)) for q in (params, p)]
    assert losses[1] < losses[0]


def test_update_errors_name_the_argument():
    params, x, y = _problem()
    grads = jax.tree.map(jnp.zeros_like, params)
    with pytest.raises(ValueError, match=r"one entry per block, like params \(3\); got 2"):
        lw.update_blocks(params, grads[:2], 0.1)
    with pytest.raises(ValueError, match=r"grads\[1\] must have the structure and shapes"):
        lw.update_blocks(params, [grads[0], {"w": grads[1]["w"]}, grads[2]], 0.1)
    with pytest.raises(ValueError, match=r"block index 3 is out of range.*0\.\.2"):
        lw.update_blocks(params, grads, 0.1, blocks=3)
    with pytest.raises(TypeError, match="must be a static Python value"):
        jax.jit(lambda j: lw.update_blocks(params, grads, 0.1, blocks=j))(1)
    with pytest.raises(TypeError, match="params must be a list"):
        lw.update_blocks({"w": 1.0}, grads, 0.1)
    with pytest.raises(TypeError, match="grad_fn must be a function"):
        lw.layerwise_sweep(grads, params, 0.1)


# --- exact block solves ----------------------------------------------------------------------


def _kron_min_norm_block(params, j, x, y):
    """The block's min-norm least squares as one linear system in vec(W), in NumPy float64:
    vec(A W B) = (B^T kron A) vec(W) (column-major vec)."""
    p = [jax.tree.map(np.asarray, q) for q in params]
    z = np.asarray(x)
    for q in p[:j]:
        z = z @ q["w"] + q["b"]
    a = np.concatenate([z, np.ones((z.shape[0], 1))], axis=1)
    b, c = np.eye(p[j]["w"].shape[1]), np.zeros(p[j]["w"].shape[1])
    for q in p[j + 1 :]:
        b, c = b @ q["w"], c @ q["w"] + q["b"]
    t = np.asarray(y) - c
    vec_w = np.linalg.lstsq(np.kron(b.T, a), t.reshape(-1, order="F"), rcond=1e-10)[0]
    return vec_w.reshape(a.shape[1], b.shape[0], order="F"), np.linalg.matrix_rank(a), b


@pytest.mark.parametrize("j", [0, 1, 2])
def test_solve_block_is_the_min_norm_least_squares_even_when_rank_deficient(j):
    # sizes 4-2-6-3: block 2's input [z_2, 1] has rank 3 of 7 (z_2 comes through width 2), and
    # block 1's B = w_3 (6, 3) has rank 3 of 6: both factors rank deficient somewhere.
    with jax.enable_x64(True):
        net = F.deep_linear([4, 2, 6, 3])
        params = _params(net, seed=2)
        x, y = _data(net.sizes, seed=3)
        new = SOLVE(net, params, j, x, y)
        want, rank_a, b = _kron_min_norm_block(params, j, x, y)
        got = np.concatenate([new[j]["w"], new[j]["b"][None, :]], axis=0)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)
        if j == 2:
            assert rank_a == 3 < got.shape[0]
        if j == 1:
            assert np.linalg.matrix_rank(b) == 3 < b.shape[0]
        for i in {0, 1, 2} - {j}:
            jax.tree.map(np.testing.assert_array_equal, new[i], params[i])
        # the block's gradient vanishes there (normal equations) and the loss did not go up
        vg = _vg(net)
        (l0, _), (l1, g1) = vg(params, x, y), vg(new, x, y)
        assert float(l1) <= float(l0) and _max_abs(g1[j]) < 1e-10


def test_exact_bcd_reaches_the_least_squares_optimum_when_the_later_layers_allow_it():
    # sizes 3-5-5-2: after block 0, [x, 1] W B with B = w_2 w_3 of full column rank 2 spans
    # every affine map, so one exact block reaches L*; the loss never goes up along a sweep.
    with jax.enable_x64(True):
        net = F.deep_linear([3, 5, 5, 2])
        params = _params(net, seed=4)
        x, y = _data(net.sizes, seed=5)
        l_star, _ = _ls_loss(x, y)

        def blocks_in_turn(params, x, y):
            losses, p = [F.mse(net.apply(params, x), y)], params
            for j in range(3):
                p = lw.solve_block(net, p, j, x, y)
                losses.append(F.mse(net.apply(p, x), y))
            return jnp.stack(losses), p, lw.exact_bcd_sweep(net, params, x, y)

        losses, p, swept = jax.jit(blocks_in_turn)(params, x, y)
        losses = [float(v) for v in losses]
        assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:])), losses
        assert losses[0] - l_star > 1.0
        assert abs(losses[1] - l_star) < 1e-12 * max(1.0, l_star), losses[1] - l_star
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), swept, p)


def test_block_solves_refuse_nonlinear_networks_and_bad_data():
    net = F.deep_linear([3, 4, 2])
    params = [{"w": np.ones((3, 4)), "b": np.ones(4)}, {"w": np.ones((4, 2)), "b": np.ones(2)}]
    x, y = np.ones((5, 3)), np.ones((5, 2))
    with pytest.raises(ValueError, match="deep linear network.*activations \\('tanh'"):
        lw.solve_block(F.mlp([3, 4, 2], "tanh"), params, 0, x, y)
    with pytest.raises(TypeError, match="deep linear network"):
        lw.solve_block(object(), params, 0, x, y)
    with pytest.raises(ValueError, match=r"block index 2 is out of range"):
        lw.solve_block(net, params, 2, x, y)
    with pytest.raises(ValueError, match=r"y must have shape \(batch, n_L\) = \(batch, 2\)"):
        lw.solve_block(net, params, 0, x, np.ones((5, 3)))
    with pytest.raises(ValueError, match="same batch size"):
        lw.solve_block(net, params, 0, x, np.ones((4, 2)))


# --- one map, many factorizations; the loss is not convex ------------------------------------


def test_end_to_end_and_factorize_give_the_same_map():
    with jax.enable_x64(True):
        net = F.deep_linear([3, 5, 4, 2])
        params = _params(net)
        x, _ = _data(net.sizes)

        def maps(params, x):
            p, c = lw.end_to_end(net, params)
            balanced = lw.factorize(net, p, c)
            return (
                x @ p + c[None, :],
                net.apply(params, x),
                (p, c),
                lw.end_to_end(net, balanced),
                balanced,
            )

        out, apply, pc, pc2, balanced = jax.jit(maps)(params, x)
        np.testing.assert_allclose(out, apply, rtol=1e-13)
        for a, b in zip(pc, pc2):
            np.testing.assert_allclose(a, b, atol=1e-13)
        for w, w_next in zip(balanced, balanced[1:]):  # balanced: w_j^T w_j = w_j+1 w_j+1^T
            np.testing.assert_allclose(w["w"].T @ w["w"], w_next["w"] @ w_next["w"].T, atol=1e-13)
        with pytest.raises(ValueError, match=r"every hidden width >= min\(n_0, n_L\) = 3"):
            lw.factorize(F.deep_linear([3, 2, 3]), np.ones((3, 3)), np.ones(3))


@pytest.mark.parametrize("s", ["sign", "diagonal", "matrix"])
def test_equivalent_params_change_the_layers_but_not_the_map(s):
    with jax.enable_x64(True):
        net = F.deep_linear([3, 4, 4, 2])
        params = _params(net)
        s = {
            "sign": -1.0,
            "diagonal": np.array([2.0, -0.5, 1.5, 3.0]),
            "matrix": np.random.default_rng(7).normal(size=(4, 4)) + 2 * np.eye(4),
        }[s]
        other = jax.jit(lw.equivalent_params, static_argnums=(0, 2))(net, params, 1, s)
        for a, b in zip(lw.end_to_end(net, params), lw.end_to_end(net, other)):
            np.testing.assert_allclose(a, b, atol=1e-12)
        jax.tree.map(np.testing.assert_array_equal, other[0], params[0])
        assert _max_abs(jax.tree.map(jnp.subtract, other[1], params[1])) > 0.1
        assert _max_abs(jax.tree.map(jnp.subtract, other[2]["w"], params[2]["w"])) > 0.1


def test_equivalent_params_errors():
    net = F.deep_linear([3, 4, 4, 2])
    params = [{"w": np.ones((m, n)), "b": np.ones(n)} for m, n in ((3, 4), (4, 4), (4, 2))]
    with pytest.raises(ValueError, match=r"0 <= j < L - 1 = 2; got 2"):
        lw.equivalent_params(net, params, 2)
    with pytest.raises(ValueError, match="s must be invertible"):
        lw.equivalent_params(net, params, 0, 0.0)
    with pytest.raises(ValueError, match="s must be invertible"):
        lw.equivalent_params(net, params, 0, np.array([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="s must be invertible"):
        lw.equivalent_params(net, params, 0, np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"vector \(4,\) or a matrix \(4, 4\)"):
        lw.equivalent_params(net, params, 0, np.ones(3))


@pytest.mark.parametrize("kind", ["sign", "rotation"])
def test_two_global_minimizers_whose_midpoint_is_not_one(kind):
    """The lecture's "not jointly convex": two minimizers, a higher midpoint.

    Both members of the pair attain L*, the least-squares loss over all affine maps (which no
    parameters can beat), and their gradients vanish. The loss above L* of any parameters is
    exactly 1/2 mean_i ||[x_i, 1] (W - W*)||^2, W their affine map and W* the least-squares
    one (the residual at W* is orthogonal to the columns of [x, 1]); at the midpoint it is at
    least 0.1 here: a convex loss would be <= the endpoints' average L* there.
    """
    with jax.enable_x64(True):
        net = F.deep_linear([3, 4, 4, 2])
        x, y = _data(net.sizes, n=60, seed=8)
        angle = np.pi / 2  # a quarter turn in the plane of units 0 and 1 of layer 1
        rot = np.eye(4)
        rot[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        l_star, w_star = _ls_loss(x, y)
        x1 = np.concatenate([np.asarray(x), np.ones((x.shape[0], 1))], axis=1)

        def pair_and_midpoint(x, y, s):
            a, b = lw.minimizer_pair(net, x, y, j=1, s=s)
            mid = lw.interpolate(a, b, 0.5)
            vg = value_and_grad(net, "mse")
            return vg(a, x, y), vg(b, x, y), vg(mid, x, y)[0], mid, lw.end_to_end(net, mid)

        s = -1.0 if kind == "sign" else jnp.asarray(rot)
        *ends, loss_mid, mid, (p, c) = jax.jit(pair_and_midpoint)(x, y, s)
        for loss, grads in ends:
            assert abs(float(loss) - l_star) <= 1e-12 * l_star
            assert _max_abs(grads) < 1e-12
        loss_mid = float(loss_mid)
        w_mid = np.concatenate([np.asarray(p), np.asarray(c)[None, :]], axis=0)
        excess = 0.5 * np.mean(np.sum((x1 @ (w_mid - w_star)) ** 2, axis=1))
        assert abs((loss_mid - l_star) - excess) < 1e-10 * max(1.0, excess)
        assert loss_mid - l_star > 0.1, loss_mid - l_star
        if kind == "sign":  # the midpoint's hidden layer is zero: its map is the constant c*
            assert _max_abs(mid[1]) == 0.0
            np.testing.assert_allclose(p, 0.0, atol=1e-14)
            np.testing.assert_allclose(c, w_star[-1], atol=1e-12)
