"""With their default (the papers') conventions, the optimizers follow the papers' algorithms.

Each algorithm is transcribed below in plain NumPy float64, step by step as its paper writes
it (Polyak's two-step recurrence, Sutskever et al.'s look-ahead gradient, Duchi et al.'s
norms of the gradient history, Kingma and Ba's Algorithm 1, Loshchilov and Hutter's
Algorithm 2), on the flattened parameters. funcnn runs on the parameter pytree in float64,
all runs in one compiled program; the two agree to 1e-12 after 100 steps, under a constant
learning rate and under a schedule.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from funcnn import optimizers as O
from tests.optimizers import problem as P

MU = P.MOMENTUM


def sgd(w, grad, eta, steps):
    """w_{k+1} = w_k - eta_k g_k."""
    for k in range(steps):
        w = w - eta(k) * grad(w, k)
    return w


def polyak_heavy_ball(w, grad, alpha, beta, steps):
    """Polyak (1964): w_{k+1} = w_k - alpha_k grad f(w_k) + beta (w_k - w_{k-1}), w_{-1} = w_0."""
    w_prev = w
    for k in range(steps):
        w, w_prev = w - alpha(k) * grad(w, k) + beta * (w - w_prev), w
    return w


def sutskever_nesterov(theta, grad, eps, mu, steps):
    """Sutskever et al. (2013), eq. 3-4: v_{t+1} = mu v_t - eps_t grad f(theta_t + mu v_t),
    theta_{t+1} = theta_t + v_{t+1}. Returns the look-ahead point theta_t + mu v_t, where
    the gradient is taken and which funcnn's parameters hold."""
    v = np.zeros_like(theta)
    for t in range(steps):
        v = mu * v - eps(t) * grad(theta + mu * v, t)
        theta = theta + v
    return theta + mu * v


def duchi_adagrad(x, grad, eta, delta, steps):
    """Duchi et al. (2011), diagonal case: x_{t+1,i} = x_{t,i} - eta g_{t,i} / (delta +
    ||g_{1:t,i}||_2), with g_{1:t} the matrix of all gradients so far (one row per step)."""
    history = []
    for t in range(steps):
        g = grad(x, t)
        history.append(g)
        s = np.linalg.norm(np.array(history), axis=0)  # ||g_{1:t,i}||_2 for every i
        x = x - eta(t) * g / (delta + s)
    return x


def tieleman_hinton_rmsprop(w, grad, eta, rho, eps, steps):
    """Lecture 6.5: MeanSquare(w, t) = 0.9 MeanSquare(w, t-1) + 0.1 (dE/dw(t))^2, and the
    gradient is divided by sqrt(MeanSquare(w, t)) (plus eps, outside the root)."""
    mean_square = np.zeros_like(w)
    for t in range(steps):
        g = grad(w, t)
        mean_square = rho * mean_square + (1 - rho) * g**2
        w = w - eta(t) * g / (np.sqrt(mean_square) + eps)
    return w


def kingma_ba_adam(theta, grad, alpha, beta1, beta2, eps, steps):
    """Kingma and Ba (2015), Algorithm 1."""
    m = np.zeros_like(theta)  # Initialize 1st moment vector
    v = np.zeros_like(theta)  # Initialize 2nd moment vector
    t = 0  # Initialize timestep
    while t < steps:
        t = t + 1
        g = grad(theta, t - 1)  # Get gradients w.r.t. stochastic objective at timestep t
        m = beta1 * m + (1 - beta1) * g  # Update biased first moment estimate
        v = beta2 * v + (1 - beta2) * g**2  # Update biased second raw moment estimate
        m_hat = m / (1 - beta1**t)  # Compute bias-corrected first moment estimate
        v_hat = v / (1 - beta2**t)  # Compute bias-corrected second raw moment estimate
        theta = theta - alpha(t - 1) * m_hat / (np.sqrt(v_hat) + eps)  # Update parameters
    return theta


def loshchilov_hutter_adamw(theta, grad, alpha, eta, lam, decays, steps, l2=False):
    """Loshchilov and Hutter (2019), Algorithm 2, with beta1 = 0.9, beta2 = 0.999,
    eps = 1e-8. ``eta`` is the schedule multiplier, ``decays`` is 1 where a parameter decays.
    ``l2=True`` takes the purple lines (Adam with L2 regularization) instead of the green one.
    """
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    m, v, t = np.zeros_like(theta), np.zeros_like(theta), 0
    while t < steps:
        t = t + 1
        g = grad(theta, t - 1)
        if l2:
            g = g + lam * decays * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        eta_t = eta(t - 1)  # SetScheduleMultiplier(t)
        decay = 0.0 if l2 else lam * decays * theta
        theta = theta - eta_t * (alpha * m_hat / (np.sqrt(v_hat) + eps) + decay)
    return theta


# Schedule multipliers eta_k: in Python float64 for the NumPy side, and as a function of
# the traced count (float64 under enable_x64) for funcnn, whose learning rate is LR * eta_k.
MULTIPLIERS = {"constant": lambda k: 1.0, "schedule": lambda k: 1 / (1 + k / 10)}
TRACED_MULTIPLIERS = {"schedule": lambda k: 1 / (1 + jnp.asarray(k, float) / 10)}
LAM = P.WEIGHT_DECAY


def _lr(kind):
    return lambda k: P.LR * MULTIPLIERS[kind](k)


def _traced_lr(kind):
    """funcnn's learning rate: a number when constant, else a schedule."""
    return P.LR if kind == "constant" else lambda k: P.LR * TRACED_MULTIPLIERS[kind](k)


def _traced_decay(kind):
    return LAM if kind == "constant" else lambda k: LAM * TRACED_MULTIPLIERS[kind](k)


# case -> (funcnn's optimizer for a learning-rate kind, the NumPy run for that kind)
CASES = {
    "sgd": (lambda kind: O.sgd(_traced_lr(kind)), lambda kind, w, g, d: sgd(w, g, _lr(kind), 100)),
    "momentum": (
        lambda kind: O.momentum(_traced_lr(kind), MU),
        lambda kind, w, g, d: polyak_heavy_ball(w, g, _lr(kind), MU, 100),
    ),
    "nesterov": (
        lambda kind: O.nesterov(_traced_lr(kind), MU),
        lambda kind, w, g, d: sutskever_nesterov(w, g, _lr(kind), MU, 100),
    ),
    "adagrad": (
        lambda kind: O.adagrad(_traced_lr(kind)),
        lambda kind, w, g, d: duchi_adagrad(w, g, _lr(kind), 1e-7, 100),
    ),
    "rmsprop": (
        lambda kind: O.rmsprop(_traced_lr(kind)),
        lambda kind, w, g, d: tieleman_hinton_rmsprop(w, g, _lr(kind), 0.9, 1e-8, 100),
    ),
    "adam": (
        lambda kind: O.adam(_traced_lr(kind)),
        lambda kind, w, g, d: kingma_ba_adam(w, g, _lr(kind), 0.9, 0.999, 1e-8, 100),
    ),
    # AdamW: learning_rate = alpha eta_k and weight_decay = lambda eta_k (the docstring's
    # recipe for a schedule multiplier); weights only by default, every parameter with None.
    "adamw": (
        lambda kind: O.adamw(_traced_lr(kind), weight_decay=_traced_decay(kind)),
        lambda kind, w, g, d: loshchilov_hutter_adamw(w, g, P.LR, MULTIPLIERS[kind], LAM, d, 100),
    ),
    "adamw, mask=None": (
        lambda kind: O.adamw(_traced_lr(kind), weight_decay=_traced_decay(kind), mask=None),
        lambda kind, w, g, d: loshchilov_hutter_adamw(
            w, g, P.LR, MULTIPLIERS[kind], LAM, np.ones_like(d), 100
        ),
    ),
    "adamw, decoupled=False": (
        lambda kind: O.adamw(_traced_lr(kind), weight_decay=LAM, decoupled=False),
        lambda kind, w, g, d: loshchilov_hutter_adamw(
            w, g, P.LR, MULTIPLIERS[kind], LAM, d, 100, l2=True
        ),
    ),
}


@functools.cache
def funcnn_runs():
    with jax.enable_x64(True):
        transforms = {
            (case, kind): make(kind) for case, (make, _) in CASES.items() for kind in MULTIPLIERS
        }
        return P.run(transforms, P.init_params("mlp"))


@pytest.mark.parametrize("kind", MULTIPLIERS)
@pytest.mark.parametrize("case", CASES)
def test_follows_the_paper_over_100_steps(case, kind):
    with jax.enable_x64(True):
        params = P.init_params("mlp")
        theta0 = np.asarray(ravel_pytree(params)[0])
        decays = ravel_pytree(jax.tree.map(jnp.full_like, params, O.weight_mask(params)))[0]
    problem = P.make_problem(theta0.size)
    expected = CASES[case][1](kind, theta0, problem.grad, np.asarray(decays))
    got = funcnn_runs()[(case, kind)][-1]
    assert np.abs(expected - theta0).max() > 1e-2  # the parameters moved
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_nesterov_params_are_the_look_ahead_point():
    """params - mu * velocity recovers the paper's theta_t (the docstring's claim)."""
    with jax.enable_x64(True):
        params = P.init_params("mlp")
        theta0, unravel = ravel_pytree(params)
        problem = P.make_problem(theta0.size)
        opt = O.nesterov(P.LR, MU)
        state = opt.init(params)
        theta, v = np.asarray(theta0), np.zeros(theta0.size)
        for t in range(5):
            v = MU * v - P.LR * problem.grad(theta + MU * v, t)
            theta = theta + v
            grads = unravel(jnp.asarray(problem.grad(np.asarray(ravel_pytree(params)[0]), t)))
            updates, state = opt.update(grads, state, params)
            params = jax.tree.map(lambda p, u: p + u, params, updates)
        paper_theta = jax.tree.map(lambda p, v: p - MU * v, params, state.velocity)
        np.testing.assert_allclose(ravel_pytree(paper_theta)[0], theta, rtol=0, atol=1e-14)


def test_adam_without_bias_correction():
    """bias_correction=False: the first step is -alpha (1 - b1) g / (sqrt(1 - b2) |g| + eps)."""
    g = {"w": jnp.array([0.5, -2.0, 1e-3])}
    opt = O.adam(1e-3, bias_correction=False)
    updates, _ = opt.update(g, opt.init(g))
    gw = np.asarray(g["w"], np.float64)
    expected = -1e-3 * 0.1 * gw / (np.sqrt(0.001) * np.abs(gw) + 1e-8)
    np.testing.assert_allclose(updates["w"], expected, rtol=1e-6)
    corrected, _ = O.adam(1e-3).update(g, opt.init(g))
    assert np.all(np.abs(updates["w"]) > 3 * np.abs(corrected["w"]))
