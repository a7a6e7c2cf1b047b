"""benchmarks.workloads: FLOP counts and funcnn's step."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import workloads
from tests.benchmarks.tiny import BATCH, SIZES


def test_flop_counts():
    sizes, batch = (40, 256, 256, 10), 128
    params = 40 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert workloads.mlp_params(sizes) == params
    assert workloads.mlp_step_flops(sizes, batch) == 6 * params * batch
    macs = 40 * 256 + 256 * 256 + 256 * 10
    assert workloads.mlp_step_matmul_flops(sizes, batch) == 2 * batch * (3 * macs - 40 * 256)


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
        return jax.tree.map(
            lambda p, g: p - 1e-3 * g / (jnp.abs(g) + workloads.ADAM_EPS), p, g
        ), loss

    p_expect, loss_expect = expected(fs.state.params)
    state, metrics = fs.step(fs.state, (x, y))
    np.testing.assert_allclose(metrics["loss"], loss_expect, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(p_expect)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
