"""Property tests: hand-written gradients equal jax.grad on random networks.

Random MLPs of depth 1-6, widths 1-64, batch 1-33, any activation per layer, squared or
cross-entropy loss, with and without dropout (the same key for both sides), in float64.

Kinks are handled deliberately: before comparing, the biases of ReLU / leaky-ReLU / step
layers are moved so that every pre-activation is at least ``MARGIN`` from 0
(:func:`funcnn.gradcheck.move_off_kinks`), and the test asserts that it worked. Both sides use
the same convention at an exact kink (ReLU'(0) = 0, tested with exact zeros in
``test_backprop.py``), but the two forwards are different programs and may round a
pre-activation of ~1e-17 to opposite signs; away from the kinks nothing depends on that.

Each example is one compiled program (its shapes are new), so example counts stay modest.
"""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.activations import ACTIVATIONS

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
    x = draws.normal((batch, model.sizes[0]))
    n_out = model.sizes[-1]
    if loss == "softmax_cross_entropy":
        y = draws.randint((batch,), n_out)
    elif loss == "binary_cross_entropy":
        y = draws.uniform((batch, n_out))
    else:
        y = draws.normal((batch, n_out))
    key = jax.random.fold_in(jax.random.key(seed), 1) if dropout else None
    return params, x, y, key


@settings(max_examples=25)
@given(mlp_problems())
def test_manual_gradients_equal_autodiff_on_random_mlps(problem):
    model, loss, batch, seed, dropout = problem
    manual = bp.value_and_grad(model, loss)
    loss_f = F.LOSSES[loss]

    def check(params, x, y, key):
        # Deliberate: move every kinked pre-activation at least MARGIN away from its kink
        # (and measure that it worked), then differentiate both ways.
        params = gc.move_off_kinks(model, params, x, key=key, margin=MARGIN)
        distance = gc.min_kink_distance(model, params, x, key=key)
        ref = jax.value_and_grad(
            lambda p: loss_f(model.apply(p, x, key=key, train=key is not None), y)
        )(params)
        return distance, params, manual(params, x, y, key), ref

    with jax.enable_x64(True):
        args = _data(model, loss, batch, seed, dropout)
        distance, params, (value, grads), (ref_value, ref_grads) = gc.compile_once(check, *args)(
            *args
        )
        assert float(distance) >= MARGIN * (1 - 1e-9)
        np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-300)
        rows = gc.compare_grads(grads, ref_grads, rtol=1e-10)
        assert all(r.passed for r in rows), [r for r in rows if not r.passed]
        assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)


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
