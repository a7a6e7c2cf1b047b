"""funcnn.backprop.losses: the losses' and penalties' backwards against autodiff and against the
notes' formulas; the softmax's backward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from tests.helpers import close, draws, once


def _loss_targets(name, d):
    if name == "softmax_cross_entropy":
        return {"labels": d.randint((6,), 4), "soft": F.softmax(d.normal((6, 4)))}
    if name == "binary_cross_entropy":
        return {"soft": d.uniform((6, 4))}
    return {"real": d.normal((6, 4))}


@pytest.mark.parametrize("name", sorted(F.LOSSES))
def test_loss_backward_matches_autodiff(name):
    with jax.enable_x64(True):
        d = draws(4)
        o = d.normal((6, 4), 3.0)
        targets = _loss_targets(name, d)

        def both(o, targets):
            out = {}
            for kind, y in targets.items():
                value, cache = bp.loss_forward(name, o, y)
                do, dy = bp.loss_backward(name, cache, 2.0)  # an incoming cotangent g = 2
                ref_do = 2.0 * jax.grad(F.LOSSES[name])(o, y)
                labels = kind == "labels"
                ref_dy = None if labels else 2.0 * jax.grad(F.LOSSES[name], argnums=1)(o, y)
                out[kind] = (value, do, dy), (F.LOSSES[name](o, y), ref_do, ref_dy)
            return out

        for kind, (ours, ref) in once(both, o, targets).items():
            close(ours, ref)
            assert (ours[2] is None) == (kind == "labels")  # integer labels: no gradient


def test_loss_backwards_are_the_notes_formulas():
    with jax.enable_x64(True):
        o = draws(5).normal((6, 4))
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

        got = once(grads, o, labels, y)
        o, y = np.asarray(o), np.asarray(y)
        softmax = np.exp(o) / np.exp(o).sum(1, keepdims=True)
        close(got["softmax_cross_entropy"], (softmax - y) / 6)  # the digest, section 4
        close(got["binary_cross_entropy"], (1 / (1 + np.exp(-o)) - y) / 6)
        close(got["sum_squared_error"], 2 * (o - y))  # the lecture: 2 (z_J - y)
        close(got["mse"], (o - y) / 6)  # the digest, eq. 7


def test_loss_backward_rejects_an_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid names are"):
        bp.loss_forward("hinge", jnp.ones((2, 1)), jnp.ones((2, 1)))


def test_softmax_backward_matches_vjp():
    with jax.enable_x64(True):
        d = draws(3)
        s, dp = d.normal((3, 5)), d.normal((3, 5))

        def both(s, dp):
            p, vjp = jax.vjp(F.softmax, s)
            return bp.softmax_backward(p, dp), vjp(dp)[0]

        close(*once(both, s, dp))


def test_penalty_backwards_match_autodiff():
    with jax.enable_x64(True):
        params = gc.nontrivial_params(F.mlp([3, 4, 2], "tanh"), draws(6))
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

        ours, ref = once(both, params)
        close(ours, ref)
        for layer in ours[0]:  # biases are not penalized
            assert not np.any(np.asarray(layer["b"]))
        np.testing.assert_array_equal(ours[0][0]["w"], params[0]["w"])  # d/dw (1/2) w^2 = w
        assert float(ours[1][0]["w"][0, 0]) == 1.0  # the subgradient at w = 0: +1
