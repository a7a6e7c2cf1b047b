"""funcnn.train.step: the compiled step, the scanned epoch, evaluation; the vmapped epoch."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn
from funcnn.data import epoch_batches, permutation
from funcnn.train import (
    evaluate,
    init_state,
    init_states,
    make_epoch,
    make_eval,
    make_optimizer,
    make_step_fn,
    make_train_step,
    make_vmapped_epoch,
    shuffle_key,
)
from tests.train.tiny import NET, OPT, X_TR, Y_TR, close, differ

LOSS = "softmax_cross_entropy"
BATCH = (jnp.asarray(X_TR[:8]), jnp.asarray(Y_TR[:8]))


def test_a_second_call_with_the_same_shapes_does_not_retrace():
    step = jax.jit(chex.assert_max_traces(make_step_fn(NET, LOSS, OPT), n=1), donate_argnums=0)
    state = init_state(NET, OPT, jax.random.key(0))
    for _ in range(3):  # a new state (new buffers) each time, the same shapes
        state, _ = step(state, BATCH)
    with pytest.raises(AssertionError, match="retrac|traced"):  # the guard does fire
        step(state, (BATCH[0][:4], BATCH[1][:4]))


def test_grad_norm_metric_can_be_switched_off_without_changing_the_update():
    with_norm = make_train_step(NET, LOSS, OPT)
    lean = make_train_step(NET, LOSS, OPT, grad_norm=False)
    s1, m1 = with_norm(init_state(NET, OPT, jax.random.key(5)), BATCH)
    s2, m2 = lean(init_state(NET, OPT, jax.random.key(5)), BATCH)
    assert set(m1) == {"loss", "grad_norm"} and set(m2) == {"loss"}
    assert float(m1["grad_norm"]) > 0
    chex.assert_trees_all_equal(m1["loss"], m2["loss"])
    chex.assert_trees_all_equal(s1.params, s2.params)


def test_train_step_compiles_once_and_epoch_equals_the_step_loop():
    step = make_train_step(NET, LOSS, OPT)
    assert make_train_step(NET, LOSS, OPT) is step  # cached
    epoch = make_epoch(NET, LOSS, OPT, batch_size=8)
    x, y = jnp.asarray(X_TR), jnp.asarray(Y_TR)

    # A Python loop over the jitted step, fed the batches the scanned epoch draws.
    s_loop = init_state(NET, OPT, jax.random.key(3))
    losses = []
    for e in range(2):
        xb, yb = epoch_batches(shuffle_key(s_loop.key, e), x, y, 8)
        for i in range(xb.shape[0]):
            s_loop, m = step(s_loop, (xb[i], yb[i]))
            losses.append(float(m["loss"]))
    assert step.trace_count() == 1  # 12 calls, new state each time: no retrace

    s_scan = init_state(NET, OPT, jax.random.key(3))
    scan_losses = []
    for _ in range(2):
        s_scan, m = epoch(s_scan, x, y)
        scan_losses.extend(np.asarray(m["loss"]).tolist())
    assert epoch.trace_count() == 1
    assert int(s_scan.step) == int(s_loop.step) == 12
    np.testing.assert_allclose(scan_losses, losses, rtol=1e-5)
    close(s_scan.params, s_loop.params)
    chex.assert_tree_all_finite((s_scan.params, s_scan.opt_state))


def test_state_is_donated():
    step = make_train_step(NET, LOSS, OPT)
    s = init_state(NET, OPT, jax.random.key(0))
    w = s.params[0]["w"]
    step(s, BATCH)
    assert w.is_deleted()


def test_vmapped_epoch_equals_one_epoch_per_seed():
    x, y = jnp.asarray(X_TR), jnp.asarray(Y_TR)
    states, metrics = make_vmapped_epoch(NET, LOSS, OPT, batch_size=8)(
        init_states(NET, OPT, [1, 2]), x, y
    )
    assert np.shape(metrics["loss"]) == (2, 6)
    epoch = make_epoch(NET, LOSS, OPT, batch_size=8)
    for i, seed in enumerate([1, 2]):
        one, m = epoch(init_state(NET, OPT, jax.random.key(seed)), x, y)
        close(jax.tree.map(lambda a, i=i: a[i], states.params), one.params)
        np.testing.assert_allclose(metrics["loss"][i], m["loss"], rtol=1e-5)
    assert differ(
        jax.tree.map(lambda a: a[0], states.params), jax.tree.map(lambda a: a[1], states.params)
    )


def test_evaluate_accuracy_and_loss():
    net = funcnn.softmax_regression(2, 3)
    params = [{"w": jnp.eye(2, 3), "b": jnp.zeros(3)}]  # logits = (x0, x1, 0)
    x = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    y = jnp.array([0, 1, 2, 1])  # the last one is wrong
    m = evaluate(net, params, x, y, LOSS)
    assert float(m["accuracy"]) == 0.75
    expected = funcnn.softmax_cross_entropy(x @ params[0]["w"], y)
    np.testing.assert_allclose(m["loss"], expected, rtol=1e-6)
    assert make_eval(net, LOSS) is make_eval(net, LOSS)  # one compiled evaluation
    net1 = funcnn.logistic_regression(2)
    p1 = [{"w": jnp.array([[1.0], [0.0]]), "b": jnp.zeros(1)}]
    m1 = evaluate(net1, p1, x, jnp.array([[1.0], [0.0], [0.0], [0.0]]), "binary_cross_entropy")
    assert float(m1["accuracy"]) == 0.75


def test_manual_and_autodiff_steps_agree_in_float64():
    with jax.enable_x64(True):
        opt = make_optimizer("adam", 0.01)
        x, y = jnp.asarray(X_TR[:8], jnp.float64), jnp.asarray(Y_TR[:8])
        states = []
        for grad in ("autodiff", "manual"):
            step = make_train_step(NET, LOSS, opt, grad=grad, l2=1e-2)
            s = init_state(NET, opt, jax.random.key(1), jnp.float64)
            for _ in range(3):  # dropout on: both draw the masks of dropout_key(key, step)
                s, _ = step(s, (x, y))
            states.append(s)
        assert states[0].params[0]["w"].dtype == jnp.float64
        close(states[0].params, states[1].params, rtol=1e-12, atol=1e-14)


def test_epochs_shuffle_with_a_uniform_permutation():
    perms = np.asarray(
        jax.jit(jax.vmap(lambda k: permutation(k, 4)))(jax.random.split(jax.random.key(0), 4800))
    )
    assert all(sorted(p) == [0, 1, 2, 3] for p in perms)
    # all 24 orders equally likely: chi-square with 23 degrees of freedom (p = 0.001: 49.7)
    _, counts = np.unique(perms, axis=0, return_counts=True)
    assert len(counts) == 24
    assert np.sum((counts - 200.0) ** 2 / 200.0) < 49.7
    big = np.asarray(permutation(jax.random.key(1), 5000))
    assert np.array_equal(np.sort(big), np.arange(5000))
    assert not np.array_equal(big, np.arange(5000))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        permutation(jax.random.key(0), 0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(grad="numeric"), "unknown grad 'numeric'; valid names are: autodiff, manual"),
        (dict(loss="hinge"), "unknown loss 'hinge'"),
        (dict(l2=-1.0), "l2 must be a finite number >= 0"),
        (dict(loss=lambda a, b: 0.0, grad="manual"), 'grad="manual" needs the loss by name'),
    ],
)
def test_step_bad_arguments(kwargs, match):
    kw = {"loss": LOSS, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_step_fn(NET, kw.pop("loss"), OPT, **kw)
