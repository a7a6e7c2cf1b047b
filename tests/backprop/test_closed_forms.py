"""funcnn.backprop.closed_forms: the digest's closed-form gradients of the one-layer models equal
the composed backward, and its SGD update is the digest's line."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc
from tests.helpers import close, draws, once


def test_closed_forms_equal_the_composed_backward():
    with jax.enable_x64(True):
        d = draws(18)
        lin, soft, logi = (
            F.linear_regression(3, 2),
            F.softmax_regression(3, 4),
            F.logistic_regression(3),
        )
        p_lin, p_soft, p_logi = (gc.nontrivial_params(m, d) for m in (lin, soft, logi))
        x, y = d.normal((10, 3)), d.normal((10, 2))
        labels = d.randint((10,), 4)
        y01 = jnp.asarray(d.bernoulli((10, 1)), jnp.float64)
        lr, lam = 0.03, 0.1

        def everything(p_lin, p_soft, p_logi, x, y, labels, y01):
            return dict(
                lin=(
                    bp.linear_regression_grads(p_lin, x, y),
                    bp.value_and_grad(lin, "mse")(p_lin, x, y)[1],
                ),
                soft=(
                    bp.softmax_regression_grads(p_soft, x, labels),
                    bp.value_and_grad(soft, "softmax_cross_entropy")(p_soft, x, labels)[1],
                ),
                soft_onehot=(
                    bp.softmax_regression_grads(p_soft, x, F.one_hot(labels, 4, x.dtype)),
                    bp.value_and_grad(soft, "softmax_cross_entropy")(p_soft, x, labels)[1],
                ),
                logi=(
                    bp.logistic_regression_grads(p_logi, x, y01),
                    bp.value_and_grad(logi, "binary_cross_entropy")(p_logi, x, y01)[1],
                ),
                sgd=bp.linear_regression_sgd_update(p_lin, x, y, lr, weight_decay=lam),
            )

        r = once(everything, p_lin, p_soft, p_logi, x, y, labels, y01)
        for name in ("lin", "soft", "soft_onehot", "logi"):
            close(*r[name])
        # The digest's minibatch update, written with its sum over the examples:
        w, b = np.asarray(p_lin[0]["w"]), np.asarray(p_lin[0]["b"])
        xs, ys = np.asarray(x), np.asarray(y)
        residual = xs @ w + b[None, :] - ys
        sum_x_res = sum(np.outer(xs[i], residual[i]) for i in range(10))
        close(r["sgd"][0]["w"], (1 - lr * lam) * w - lr / 10 * sum_x_res)
        close(r["sgd"][0]["b"], b - lr / 10 * residual.sum(0))


def test_closed_forms_take_one_layer_and_matching_features():
    one = [{"w": jnp.ones((3, 2)), "b": jnp.ones(2)}]
    with pytest.raises(ValueError, match=r"linear_regression_grads expects params = \[\{'w'"):
        bp.linear_regression_grads(one * 2, jnp.ones((4, 3)), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"x must have 3 features for params\[0\]\['w'\]"):
        bp.softmax_regression_grads(one, jnp.ones((4, 5)), jnp.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="same shape"):
        bp.logistic_regression_grads(one, jnp.ones((4, 3)), jnp.ones((4, 1)))
