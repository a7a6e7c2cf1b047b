"""benchmarks.workloads: FLOP counts, the fixed batch and funcnn's step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import workloads
from tests.benchmarks.tiny import BATCH, LR, SIZES


def test_flop_counts():
    sizes, batch = (40, 256, 256, 10), 128
    params = 40 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert workloads.mlp_params(sizes) == params
    assert workloads.mlp_step_flops(sizes, batch) == 6 * params * batch
    macs = 40 * 256 + 256 * 256 + 256 * 10
    assert workloads.mlp_step_matmul_flops(sizes, batch) == 2 * batch * (3 * macs - 40 * 256)


def test_mlp_batch_is_fixed_by_its_seed():
    x, y = workloads.mlp_batch(SIZES, BATCH, "bfloat16")
    assert x.shape == (BATCH, SIZES[0]) and x.dtype == jnp.bfloat16
    assert y.shape == (BATCH,) and y.dtype == jnp.int32
    assert 0 <= int(y.min()) and int(y.max()) < SIZES[-1]
    again, _ = workloads.mlp_batch(SIZES, BATCH, "bfloat16")
    other, _ = workloads.mlp_batch(SIZES, BATCH, "bfloat16", seed=1)
    assert np.array_equal(x, again) and not np.array_equal(x, other)
    with pytest.raises(ValueError, match="dtype must be one of"):
        workloads.mlp_batch(SIZES, BATCH, "float16")


def test_suite_config_picks_suite_and_platform():
    configs = {(s, p): f"{s}-{p}" for s in ("quick", "full") for p in ("cpu", "accel")}
    configs = {k: {"v": v} for k, v in configs.items()}
    assert workloads.suite_config(configs, True, "cpu") == {"v": "quick-cpu"}
    assert workloads.suite_config(configs, False, "gpu") == {"v": "full-accel"}
    assert workloads.suite_config(configs, True, "tpu") == {"v": "quick-accel"}


def test_funcnn_step_matches_a_direct_computation():
    """The step the benchmarks time computes one Adam update of the softmax-CE loss."""
    import funcnn

    fs = workloads.funcnn_step(SIZES, fresh=False)
    model = funcnn.mlp(SIZES, "relu")
    x, y = workloads.mlp_batch(SIZES, BATCH)

    @jax.jit
    def expected(p):  # first Adam step: update = -lr * g / (|g| + eps)
        loss, g = jax.value_and_grad(lambda p: funcnn.softmax_cross_entropy(model.apply(p, x), y))(
            p
        )
        step = jax.tree.map(lambda p, g: p - LR * g / (jnp.abs(g) + workloads.ADAM_EPS), p, g)
        return step, loss

    p_expect, loss_expect = expected(fs.state.params)
    state, metrics = fs.step(fs.state, (x, y))
    # Two programs computing the same float32 values: they agree to a few ulps (the update's
    # g / (|g| + eps) is exact in form, but optax computes it through its moment estimates).
    np.testing.assert_allclose(metrics["loss"], loss_expect, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(p_expect)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_fresh_step_is_compiled_anew_and_a_reused_one_is_not():
    a = workloads.funcnn_step(SIZES, fresh=True)
    b = workloads.funcnn_step(SIZES, fresh=True)
    c, d = workloads.funcnn_step(SIZES, fresh=False), workloads.funcnn_step(SIZES, fresh=False)
    assert a.step is not b.step and c.step is d.step
    assert np.array_equal(a.state.params[0]["w"], c.state.params[0]["w"])  # same seed, same init
