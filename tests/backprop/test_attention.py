"""funcnn.backprop.attention: the hand-written gradients of attention pooling against jax.vjp;
masked keys get no gradient."""

import jax
import jax.numpy as jnp
import numpy as np

import funcnn as F
from funcnn import backprop as bp
from tests.helpers import close, draws, once


def test_parametric_nw_with_vector_values_matches_autodiff():
    with jax.enable_x64(True):
        d = draws(25)
        q, k = d.uniform((6,), 0, 5), d.uniform((7,), 0, 5)
        v, dout = d.normal((7, 2)), d.normal((6, 2))
        params = {"w": jnp.asarray(1.3)}

        def both(params, q, k, v, dout):
            out, cache = bp.parametric_nw_forward(params, q, k, v)
            f, vjp = jax.vjp(lambda p, q, k, v: F.parametric_nw_apply(p, q, k, v), params, q, k, v)
            return (out, bp.parametric_nw_backward(params, cache, dout)), (f, vjp(dout))

        ours, ref = once(both, params, q, k, v, dout)
        close(ours[0], ref[0])
        close(tuple(ours[1]), tuple(ref[1]))


def test_dot_product_attention_masked_keys_get_no_gradient():
    with jax.enable_x64(True):
        d = draws(26)
        q, k = d.normal((2, 3, 4)), d.normal((2, 5, 4))
        v, dout = d.normal((2, 5, 2)), d.normal((2, 3, 2))
        valid = jnp.array([[2, 3, 0], [5, 1, 4]])  # per query; query (0, 2) sees no key

        def both(q, k, v, dout):
            out, cache = bp.dot_product_attention_forward(q, k, v, valid_lens=valid)
            _, vjp = jax.vjp(
                lambda q, k, v: F.dot_product_attention(q, k, v, valid_lens=valid), q, k, v
            )
            return out, bp.dot_product_attention_backward(cache, dout), vjp(dout)

        out, (dq, dk, dv), ref = once(both, q, k, v, dout)
        close((dq, dk, dv), tuple(ref))
        np.testing.assert_array_equal(dk[0, 3:], 0.0)  # keys 3, 4 of batch 0: never attended
        np.testing.assert_array_equal(dv[0, 3:], 0.0)
        np.testing.assert_array_equal(dq[0, 2], 0.0)  # the fully masked query
        np.testing.assert_array_equal(out[0, 2], 0.0)
