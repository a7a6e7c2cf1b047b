"""Property tests: hand-written gradients equal jax.grad on random networks.

Random MLPs of depth 1-6, widths 1-64, batch 1-33, any activation per layer, squared or
cross-entropy loss, with and without dropout (the same key for both sides), in float64 — by
the lecture's form and by the generic recursion over the same blocks; random compositions of
Dense, Act and Dropout blocks, some nested; and attention pooling with random masks.

Kinks are handled deliberately: before comparing, the biases of ReLU / leaky-ReLU / step
layers are moved so that every pre-activation is at least ``MARGIN`` from 0
(:func:`funcnn.gradcheck.move_off_kinks`), and the test asserts that it worked. Both sides use
the same convention at an exact kink (ReLU'(0) = 0, tested with exact zeros in
``tests/backprop/test_dense.py``), but the two forwards are different programs and may round a
pre-activation of ~1e-17 to opposite signs; away from the kinks nothing depends on that.

Each example is one compiled program (its shapes are new), so example counts stay modest.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.activations import ACTIVATIONS
from funcnn.blocks import Act, Dense, Dropout, serial

ACTS = sorted(ACTIVATIONS)
LOSSES = ["mse", "sum_squared_error", "softmax_cross_entropy", "binary_cross_entropy"]
MARGIN = 1e-4
POOL = 1 << 15  # random numbers per example: enough for 6 layers of 64 x 64 and the data


@st.composite
def mlp_problems(draw):
    depth = draw(st.integers(1, 6))  # number of dense layers L
    sizes = draw(st.lists(st.integers(1, 64), min_size=depth + 1, max_size=depth + 1))
    loss = draw(st.sampled_from(LOSSES))
    hidden = draw(st.lists(st.sampled_from(ACTS), min_size=depth - 1, max_size=depth - 1))
    # Cross-entropy losses take logits; squared losses may follow any output activation.
    out_act = "identity" if "cross_entropy" in loss else draw(st.sampled_from(ACTS))
    rates = [draw(st.sampled_from([0.0, 0.2, 0.5])) for _ in hidden]
    dropout = draw(st.booleans()) and any(rates)
    batch = draw(st.integers(1, 33))
    seed = draw(st.integers(0, 2**31 - 1))
    model = F.mlp(sizes, hidden, output_activation=out_act, dropout=rates if dropout else 0.0)
    return model, loss, batch, seed, dropout


def _data(model, loss, batch, seed, dropout):
    draws = gc.Draws(jax.random.key(seed), jnp.float64, size=POOL)
    params = gc.nontrivial_params(model, draws)
    x = draws.normal((batch, *model.input_shape))
    n_out = model.output_shape[-1]
    if loss == "softmax_cross_entropy":
        y = draws.randint((batch,), n_out)
    elif loss == "binary_cross_entropy":
        y = draws.uniform((batch, n_out))
    else:
        y = draws.normal((batch, n_out))
    key = jax.random.fold_in(jax.random.key(seed), 1) if dropout else None
    return params, x, y, key


def _check_against_autodiff(model, loss, manuals, args):
    """Move every kinked pre-activation at least MARGIN away from its kink (and measure that
    it worked), then compare each hand-written ``value_and_grad`` in ``manuals`` with autodiff
    of ``loss(model.apply(...))``, all in one compiled program (float64)."""
    loss_f = F.LOSSES[loss]

    def check(params, x, y, key):
        params = gc.move_off_kinks(model, params, x, key=key, margin=MARGIN)
        distance = gc.min_kink_distance(model, params, x, key=key)
        ref = jax.value_and_grad(
            lambda p: loss_f(model.apply(p, x, key=key, train=key is not None), y)
        )(params)
        return distance, params, [f(params, x, y, key) for f in manuals], ref

    distance, params, results, (ref_value, ref_grads) = gc.compile_once(check, *args)(*args)
    assert float(distance) >= MARGIN * (1 - 1e-9)
    for value, grads in results:
        np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-300)
        rows = gc.compare_grads(grads, ref_grads, rtol=1e-10)
        assert all(r.passed for r in rows), [r for r in rows if not r.passed]
        chex.assert_trees_all_equal_shapes_and_dtypes(grads, params)


@settings(max_examples=25)
@given(mlp_problems())
def test_manual_gradients_equal_autodiff_on_random_mlps(problem):
    model, loss, batch, seed, dropout = problem
    # The lecture's form, and the generic recursion over the same blocks.
    manuals = [bp.value_and_grad(model, loss), bp.value_and_grad(model.serial, loss)]
    with jax.enable_x64(True):
        _check_against_autodiff(model, loss, manuals, _data(model, loss, batch, seed, dropout))


@st.composite
def compositions(draw):
    """1-4 segments ``Dense [Act] [Dropout]``, each maybe nested in its own composition, then
    a Dense output layer; a loss, a batch size, a seed and whether dropout is on."""
    width = draw(st.integers(1, 8))
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        n_out = draw(st.integers(1, 8))
        segment = [Dense(width, n_out, draw(st.sampled_from(["xavier_normal", "he_normal"])))]
        width = n_out
        if draw(st.booleans()):
            segment.append(Act(draw(st.sampled_from(ACTS))))
        if draw(st.booleans()):
            segment.append(Dropout(draw(st.sampled_from([0.0, 0.3]))))
        blocks += [serial(*segment)] if draw(st.booleans()) else segment
    blocks.append(Dense(width, draw(st.integers(1, 5))))
    loss = draw(st.sampled_from(["mse", "softmax_cross_entropy"]))
    batch, seed = draw(st.integers(1, 9)), draw(st.integers(0, 2**31 - 1))
    return serial(*blocks), loss, batch, seed, draw(st.booleans())


@settings(max_examples=10)
@given(compositions())
def test_manual_gradients_equal_autodiff_on_random_compositions(problem):
    net, loss, batch, seed, dropout = problem
    with jax.enable_x64(True):
        args = _data(net, loss, batch, seed, dropout)
        _check_against_autodiff(net, loss, [bp.value_and_grad(net, loss)], args)


@st.composite
def attention_problems(draw):
    lead = tuple(draw(st.lists(st.integers(1, 2), min_size=0, max_size=2)))
    n_q, m, d, d_v = (draw(st.integers(1, n)) for n in (5, 6, 4, 3))
    masking = draw(st.sampled_from(["none", "mask", "valid_lens"]))
    seed = draw(st.integers(0, 2**31 - 1))
    return lead, n_q, m, d, d_v, masking, seed


@settings(max_examples=15)
@given(attention_problems())
def test_dot_product_attention_gradients_equal_autodiff(problem):
    lead, n_q, m, d, d_v, masking, seed = problem
    with jax.enable_x64(True):
        draws = gc.Draws(jax.random.key(seed), jnp.float64)
        q, k = draws.normal(lead + (n_q, d)), draws.normal(lead + (m, d))
        v, dout = draws.normal(lead + (m, d_v)), draws.normal(lead + (n_q, d_v))
        kw = {}
        if masking == "mask":  # may mask every key of some query: zero output and gradient
            kw["mask"] = jnp.asarray(draws.bernoulli(lead + (n_q, m), 0.6))
        elif masking == "valid_lens":
            kw["valid_lens"] = draws.randint(lead + (n_q,), m + 1)

        def both(q, k, v, dout):
            out, cache = bp.dot_product_attention_forward(q, k, v, **kw)
            ref_out, vjp = jax.vjp(lambda q, k, v: F.dot_product_attention(q, k, v, **kw), q, k, v)
            return (out, bp.dot_product_attention_backward(cache, dout)), (ref_out, vjp(dout))

        (out, grads), (ref_out, ref_grads) = gc.compile_once(both, q, k, v, dout)(q, k, v, dout)
        np.testing.assert_array_equal(out, ref_out)
        rows = gc.compare_grads(tuple(grads), tuple(ref_grads), rtol=1e-10)
        assert all(r.passed for r in rows), [r for r in rows if not r.passed]
