"""funcnn.backprop.serial: the delta recursion over the blocks of any composition, against
autodiff of ``model.apply`` — flat, nested, with a dense network as a block, on examples of
rank 2, with and without dropout keys, in float64 (to 1e-10) and float32 (to 1e-4)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.blocks import Act, Dense, Dropout, serial
from tests.helpers import VARIANTS, close, draws, once

COMPOSITIONS = {
    "flat": serial(
        Dense(5, 6), Act("tanh"), Dropout(0.4), Dense(6, 4, "he_normal"), Act("gelu"),
        Dense(4, 3),
    ),
    "nested": serial(
        serial(Dense(5, 4), Act("softplus"), Dropout(0.3)),
        serial(Dense(4, 4), Act("sigmoid")),
        Dropout(0.2),
        Dense(4, 3),
    ),
    "mlp inside": serial(F.mlp([5, 4, 4], "tanh", dropout=0.3), Act("leaky_relu"), Dense(4, 3)),
    "rank-2 examples": serial(Dense(5, 4), Act("tanh"), Dense(4, 3), input_shape=(2, 5)),
}  # fmt: skip
BATCH = 6


def _problem(net, d):
    params = gc.nontrivial_params(net, d)
    x = d.normal((BATCH, *net.input_shape))
    dout = d.normal((BATCH, *net.output_shape))
    return params, x, dout


def _manual_and_autodiff(net, params, x, dout, key):
    """``(out, grads, dx)`` by the hand-written recursion and by ``jax.vjp`` of apply."""
    out, cache = bp.serial_forward(net, params, x, key)
    grads, dx = bp.serial_backward(net, params, cache, dout)
    apply = lambda p, x: net.apply(p, x, key=key, train=key is not None)
    ref_out, vjp = jax.vjp(apply, params, x)
    return (out, grads, dx), (ref_out, *vjp(dout))


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_generic_recursion_equals_autodiff(dtype, rtol):
    with jax.enable_x64(True):
        d = draws(21, jnp.dtype(dtype))
        problems = {name: _problem(net, d) for name, net in COMPOSITIONS.items()}
        key = jax.random.key(21)

        def everything(problems, key):
            return {
                (name, mode): _manual_and_autodiff(COMPOSITIONS[name], *problems[name], k)
                for name in COMPOSITIONS
                for mode, k in (("train", key), ("eval", None))
            }

        worst = 0.0
        for (name, mode), (ours, ref) in once(everything, problems, key).items():
            chex.assert_tree_all_finite(ours)
            chex.assert_trees_all_equal_shapes_and_dtypes(ours, ref)
            close(ours[0], ref[0], rtol=rtol / 100, atol=0.0)  # the same forward
            rows = gc.compare_grads(ours[1:], ref[1:], rtol=rtol)
            assert all(r.passed for r in rows), (name, mode, [r for r in rows if not r.passed])
            assert max(r.scale for r in rows) > 1e-3, (name, mode)  # non-trivial gradients
            worst = max(worst, *(r.max_rel_err for r in rows))
        print(f"{dtype}: worst relative error {worst:.1e}")
        assert worst <= rtol


SMALL_NESTED = serial(serial(Dense(5, 4), Act("softplus"), Dropout(0.3)), Dense(4, 3))


@functools.cache
def _small_nested():
    """A problem for SMALL_NESTED and autodiff's answer, computed once for both variants."""
    with jax.enable_x64(True):
        args = (*_problem(SMALL_NESTED, draws(22)), jax.random.key(22))
        return args, once(lambda *a: _manual_and_autodiff(SMALL_NESTED, *a)[1], *args)


def _serial_pair(params, x, dout, key):
    out, cache = bp.serial_forward(SMALL_NESTED, params, x, key)
    return (out, *bp.serial_backward(SMALL_NESTED, params, cache, dout))


@pytest.mark.parametrize("variant", VARIANTS)
def test_nested_composition_with_and_without_jit(variant):
    args, ref = _small_nested()
    with jax.enable_x64(True):
        close(variant(_serial_pair)(*args), ref, rtol=1e-10, atol=1e-14)


def test_forward_caches_the_masks_apply_draws():
    net = COMPOSITIONS["nested"]
    params, x, _ = _problem(net, draws(23, jnp.float32))
    drop = jax.random.key(23)

    def both(p, x, k):
        return bp.serial_forward(net, p, x, k), net.apply(p, x, key=k, train=True)

    (out, cache), applied = once(both, params, x, drop)
    assert isinstance(cache, bp.SerialCache) and len(cache.caches) == len(net.blocks)
    inner_mask = cache.caches[0].caches[2]  # the nested composition's Dropout block
    expected = Dropout(0.3).mask(jax.random.fold_in(jax.random.fold_in(drop, 0), 0), (BATCH, 4))
    np.testing.assert_array_equal(inner_mask, expected)
    np.testing.assert_array_equal(out, applied)


def test_backward_rejects_a_foreign_cache_and_a_wrong_cotangent(key):
    net = COMPOSITIONS["flat"]
    params = jax.eval_shape(net.init, key)  # the checks run at trace time: shapes suffice
    x = jnp.ones((BATCH, 5))
    _, cache = jax.eval_shape(lambda p, x: bp.serial_forward(net, p, x), params, x)
    short = bp.SerialCache(cache.caches[:2])
    with pytest.raises(ValueError, match=r"cache must hold one entry per block \(6\); got 2"):
        bp.serial_backward(net, params, short, jnp.ones((BATCH, 3)))
    with pytest.raises(AssertionError, match="input 0 has shape"):
        jax.eval_shape(lambda c: bp.serial_backward(net, params, c, jnp.ones((BATCH, 4))), cache)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 5\) for this serial"):
        bp.serial_forward(net, params, jnp.ones((BATCH, 4)))
