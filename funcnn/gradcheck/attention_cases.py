"""Gradient-check cases of attention pooling (the digest, section 11): the parametric and
plain Nadaraya-Watson kernel regressions and scaled dot-product attention, with and without
masks."""

from __future__ import annotations

import jax.numpy as jnp

from funcnn import backprop as bp
from funcnn.attention import dot_product_attention, nadaraya_watson, parametric_nw_apply
from funcnn.gradcheck.case import Case
from funcnn.gradcheck.draws import Draws
from funcnn.losses import mse


def _nw_data(key, dtype, n_q=4, m=5):
    draws = Draws(key, dtype)
    q = draws.uniform((n_q,), 0.0, 5.0)
    k = jnp.sort(draws.uniform((m,), 0.0, 5.0))
    v = draws.normal((m,))
    y = draws.normal((n_q,))
    w = 0.5 + draws.uniform(())
    return q, k, v, y, w


def _parametric_nw_build(key, dtype):
    q, k, v, y, w = _nw_data(key, dtype)
    params = {"w": w, "queries": q, "keys": k, "values": v}

    def reference(p, y):
        return mse(parametric_nw_apply({"w": p["w"]}, p["queries"], p["keys"], p["values"]), y)

    def manual_grad(p, y):
        out, cache = bp.parametric_nw_forward({"w": p["w"]}, p["queries"], p["keys"], p["values"])
        dout, _ = bp.mse_backward(out, y)
        g, dq, dk, dv = bp.parametric_nw_backward({"w": p["w"]}, cache, dout)
        return {"w": g["w"], "queries": dq, "keys": dk, "values": dv}

    return manual_grad, reference, params, (y,)


def _nw_build(key, dtype):
    q, k, v, y, _ = _nw_data(key, dtype)
    params = {"queries": q, "keys": k, "values": v}

    def reference(p, y):
        return mse(nadaraya_watson(p["queries"], p["keys"], p["values"]), y)

    def manual_grad(p, y):
        out, cache = bp.nadaraya_watson_forward(p["queries"], p["keys"], p["values"])
        dout, _ = bp.mse_backward(out, y)
        dq, dk, dv = bp.nadaraya_watson_backward(cache, dout)
        return {"queries": dq, "keys": dk, "values": dv}

    return manual_grad, reference, params, (y,)


def _dot_product_build(masking: str):
    def build(key, dtype, lead=2, n_q=3, m=4, d=3, d_v=2):
        draws = Draws(key, dtype)
        params = {
            "queries": draws.normal((lead, n_q, d)),
            "keys": draws.normal((lead, m, d)),
            "values": draws.normal((lead, m, d_v)),
        }
        y = draws.normal((lead, n_q, d_v))
        kw = {}
        if masking == "mask":
            mask = draws.bernoulli((lead, n_q, m), 0.6)
            mask[0, 0, :] = False  # a query with every key masked: zero output
            mask[1, :, 0] = True
            kw["mask"] = jnp.asarray(mask)
        elif masking == "valid_lens":
            kw["valid_lens"] = jnp.array([2, 3])

        def reference(p, y):
            out = dot_product_attention(p["queries"], p["keys"], p["values"], **kw)
            return mse(out, y)

        def manual_grad(p, y):
            out, cache = bp.dot_product_attention_forward(
                p["queries"], p["keys"], p["values"], **kw
            )
            dout, _ = bp.mse_backward(out, y)
            dq, dk, dv = bp.dot_product_attention_backward(cache, dout)
            return {"queries": dq, "keys": dk, "values": dv}

        return manual_grad, reference, params, (y,)

    return build


ATTENTION_CASES: tuple[Case, ...] = (
    Case("parametric_nw", "parametric_nw", "gaussian kernel", "mse", _parametric_nw_build),
    Case("nadaraya_watson", "nadaraya_watson", "gaussian kernel", "mse", _nw_build),
    Case(
        "dot_product_attention",
        "dot_product_attention",
        "softmax",
        "mse",
        _dot_product_build("none"),
    ),
    Case(
        "dot_product_attention",
        "dot_product_attention[mask]",
        "softmax",
        "mse",
        _dot_product_build("mask"),
        "query (0, 0) has every key masked: zero output, zero gradient",
    ),
    Case(
        "dot_product_attention",
        "dot_product_attention[valid_lens]",
        "softmax",
        "mse",
        _dot_product_build("valid_lens"),
    ),
)
