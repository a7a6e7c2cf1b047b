r"""Adaptive methods: Adagrad, RMSProp, Adam and AdamW, each from its paper's update rule.

Each divides the step of every coordinate by a running size of its gradients. The papers and
optax place the small constant :math:`\epsilon` and start the accumulators differently; each
difference is an option whose default is the paper's (see ``docs/optimizers.md`` for the
table, and :data:`funcnn.optimizers.CONVENTIONS` for optax's values).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcnn.optimizers.base import (
    check_decay_rate,
    check_eps,
    check_flag,
    check_learning_rate,
    check_nonnegative,
    next_count,
    value_at,
    weight_mask,
    zero_count,
)
from funcnn.optimizers.decay import with_weight_decay


class AdagradState(NamedTuple):
    """State of :func:`adagrad`."""

    count: jax.Array  # shape (), int32: updates made so far, the k of eta_k
    sum_of_squares: optax.Updates  # shapes of params: diag(G_k) = G_0 + sum_{j<=k} g_j^2


class RMSPropState(NamedTuple):
    """State of :func:`rmsprop`."""

    count: jax.Array  # shape (), int32: updates made so far (eta_k, bias correction)
    nu: optax.Updates  # shapes of params: MeanSquare, the moving average of g^2


class AdamState(NamedTuple):
    """State of :func:`adam` (and the first part of :func:`adamw`'s)."""

    count: jax.Array  # shape (), int32: updates made so far, t - 1 of the paper
    mu: optax.Updates  # shapes of params: m_t, the moving average of g
    nu: optax.Updates  # shapes of params: v_t, the moving average of g^2


def _denominator(nu, eps, eps_in_sqrt: bool):
    r""":math:`\sqrt{\nu + \epsilon}` or :math:`\sqrt{\nu} + \epsilon`."""
    return jnp.sqrt(nu + eps) if eps_in_sqrt else jnp.sqrt(nu) + eps


def _adaptive_step(updates, accumulator, eta, eps, eps_in_sqrt: bool):
    r""":math:`-\eta_k g / (\sqrt{a} + \epsilon)` (or :math:`\sqrt{a + \epsilon}`), leaf by leaf:
    the step of Adagrad (:math:`a = s_k`) and RMSProp (:math:`a = \nu_k`)."""
    return jax.tree.map(
        lambda g, a: (-eta * (g / _denominator(a, eps, eps_in_sqrt))).astype(g.dtype),
        updates,
        accumulator,
    )


def _filled(params, value):
    """An accumulator at its initial value, with the shapes and dtypes of ``params``."""
    return jax.tree.map(lambda p: jnp.full_like(p, value), params)


def _debias(moment, decay, count, on: bool):
    r""":math:`m / (1 - \beta^t)` with :math:`t` = count (>= 1), or ``m`` when off."""
    if not on:
        return moment
    return jax.tree.map(lambda m: m / (1 - decay**count).astype(m.dtype), moment)


def adagrad(
    learning_rate,
    eps: float = 1e-7,
    *,
    initial_accumulator_value: float = 0.0,
    eps_in_sqrt: bool = False,
) -> optax.GradientTransformation:
    r"""Adagrad, the diagonal form of Duchi, Hazan and Singer (2011).

    With :math:`H_k = \delta I + \mathrm{diag}(G_k)^{1/2}` and
    :math:`G_k = \sum_{j \le k} g_j g_j^\top`, the update
    :math:`w_{k+1} = w_k - \eta H_k^{-1} g_k` is, coordinate by coordinate,

    .. math::

        s_k = s_{k-1} + g_k^2, \quad s_0 = 0, \qquad
        w_{k+1} = w_k - \frac{\eta_k\, g_k}{\delta + \sqrt{s_k}}

    optax's ``adagrad`` starts at :math:`s_0 = 0.1` and puts :math:`\epsilon` inside the
    root, :math:`\eta_k g_k / \sqrt{s_k + \epsilon}`: ``initial_accumulator_value=0.1,
    eps_in_sqrt=True``.

    Args:
        learning_rate: :math:`\eta`, a positive number or a schedule :math:`k \mapsto \eta_k`.
        eps: :math:`\delta > 0` (the paper leaves it free; 1e-7 as in optax and in
            Goodfellow et al.'s Algorithm 8.4).
        initial_accumulator_value: :math:`s_0 \ge 0`; 0 in the paper, 0.1 in optax.
        eps_in_sqrt: False: :math:`\delta + \sqrt{s}` (paper); True: :math:`\sqrt{s + \epsilon}`
            (optax).

    Returns:
        An ``optax.GradientTransformation``; its state is an :class:`AdagradState`.

    References:
        Duchi, Hazan and Singer, Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization, JMLR 12, 2011 (section 1.1).
    """
    check_learning_rate(learning_rate)
    check_eps(eps)
    check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
    eps_in_sqrt = check_flag(eps_in_sqrt, "eps_in_sqrt")

    def init(params):
        s0 = _filled(params, initial_accumulator_value)
        return AdagradState(count=zero_count(), sum_of_squares=s0)

    def update(updates, state, params=None):
        del params
        eta = value_at(learning_rate, state.count)
        s = jax.tree.map(lambda g, s: g * g + s, updates, state.sum_of_squares)  # s_k
        updates = _adaptive_step(updates, s, eta, eps, eps_in_sqrt)
        return updates, AdagradState(count=next_count(state.count), sum_of_squares=s)

    return optax.GradientTransformation(init, update)


def rmsprop(
    learning_rate,
    decay: float = 0.9,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = False,
    initial_scale: float = 0.0,
    bias_correction: bool = False,
) -> optax.GradientTransformation:
    r"""RMSProp, as Tieleman and Hinton's lecture 6.5 (2012) states it.

    .. math::

        \mathrm{MeanSquare}_k = \rho\, \mathrm{MeanSquare}_{k-1} + (1 - \rho)\, g_k^2, \qquad
        w_{k+1} = w_k - \frac{\eta_k\, g_k}{\sqrt{\mathrm{MeanSquare}_k} + \epsilon}

    with :math:`\rho = 0.9`. The slides have no :math:`\epsilon`; funcnn adds it outside the
    root as Adam does (Adam is RMSProp with momentum and bias correction) and as PyTorch does.
    optax's ``rmsprop`` puts it inside, :math:`\sqrt{\mathrm{MeanSquare}_k + \epsilon}`:
    ``eps_in_sqrt=True``.

    Args:
        learning_rate: :math:`\eta`, a positive number or a schedule :math:`k \mapsto \eta_k`.
        decay: :math:`\rho \in [0, 1)`, 0.9 in the slides.
        eps: :math:`\epsilon > 0`.
        eps_in_sqrt: False: :math:`\sqrt{\nu} + \epsilon` (funcnn's reading of the paper);
            True: :math:`\sqrt{\nu + \epsilon}` (optax).
        initial_scale: :math:`\mathrm{MeanSquare}_0 \ge 0`; 0 (optax and PyTorch; TF1 used 1).
        bias_correction: divide the average by :math:`1 - \rho^k` as Adam does (off in the
            slides and in optax).

    Returns:
        An ``optax.GradientTransformation``; its state is an :class:`RMSPropState`.

    References:
        Tieleman and Hinton, Lecture 6.5 - rmsprop: Divide the gradient by a running average
        of its recent magnitude, COURSERA: Neural Networks for Machine Learning, 2012.
    """
    check_learning_rate(learning_rate)
    check_decay_rate(decay, "decay")
    check_eps(eps)
    check_nonnegative(initial_scale, "initial_scale")
    eps_in_sqrt = check_flag(eps_in_sqrt, "eps_in_sqrt")
    bias_correction = check_flag(bias_correction, "bias_correction")

    def init(params):
        return RMSPropState(count=zero_count(), nu=_filled(params, initial_scale))

    def update(updates, state, params=None):
        del params
        eta = value_at(learning_rate, state.count)
        count = next_count(state.count)
        nu = jax.tree.map(lambda g, n: (1 - decay) * (g * g) + decay * n, updates, state.nu)
        nu_hat = _debias(nu, decay, count, bias_correction)
        updates = _adaptive_step(updates, nu_hat, eta, eps, eps_in_sqrt)
        return updates, RMSPropState(count=count, nu=nu)

    return optax.GradientTransformation(init, update)


def adam(
    learning_rate=1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
    r"""Adam, Algorithm 1 of Kingma and Ba (2015), with the paper's defaults.

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        \hat m_t = m_t / (1 - \beta_1^t), \qquad \hat v_t = v_t / (1 - \beta_2^t), \qquad
        \theta_t = \theta_{t-1} - \alpha_t\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    optax's ``adam`` is the same algorithm (with ``eps_root=0``).

    Args:
        learning_rate: :math:`\alpha`, 0.001 in the paper; a number or a schedule.
        b1: :math:`\beta_1 \in [0, 1)`, 0.9.
        b2: :math:`\beta_2 \in [0, 1)`, 0.999.
        eps: :math:`\epsilon > 0`, 1e-8.
        bias_correction: divide by :math:`1 - \beta^t` (the paper's section 3); False keeps
            the raw moments, which start biased towards 0: the first step is
            :math:`(1 - \beta_1) / \sqrt{1 - \beta_2} \approx 3.2` times the corrected one.

    Returns:
        An ``optax.GradientTransformation``; its state is an :class:`AdamState`.

    References:
        Kingma and Ba, Adam: A Method for Stochastic Optimization, ICLR 2015.
    """
    check_learning_rate(learning_rate)
    check_decay_rate(b1, "b1")
    check_decay_rate(b2, "b2")
    check_eps(eps)
    bias_correction = check_flag(bias_correction, "bias_correction")

    def init(params):
        # Two separate trees of zeros: a training step donates the state's buffers, and
        # one buffer cannot be donated twice.
        mu = jax.tree.map(jnp.zeros_like, params)
        nu = jax.tree.map(jnp.zeros_like, params)
        return AdamState(count=zero_count(), mu=mu, nu=nu)

    def update(updates, state, params=None):
        del params
        alpha = value_at(learning_rate, state.count)
        t = next_count(state.count)
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, updates, state.mu)  # m_t
        nu = jax.tree.map(lambda g, v: (1 - b2) * (g * g) + b2 * v, updates, state.nu)  # v_t
        mu_hat = _debias(mu, b1, t, bias_correction)
        nu_hat = _debias(nu, b2, t, bias_correction)
        updates = jax.tree.map(
            lambda m, v: (-alpha * (m / (jnp.sqrt(v) + eps))).astype(m.dtype), mu_hat, nu_hat
        )
        return updates, AdamState(count=t, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)


def adamw(
    learning_rate=1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay=1e-4,
    *,
    mask=weight_mask,
    decoupled: bool = True,
    scale_decay_by_lr: bool = False,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
    r"""AdamW, Algorithm 2 of Loshchilov and Hutter (2019): Adam with decoupled weight decay.

    .. math::

        \theta_t = \theta_{t-1} - \eta_t \left( \alpha\, \hat m_t / (\sqrt{\hat v_t}
        + \epsilon) + \lambda\, \theta_{t-1} \right)

    with :math:`\hat m_t, \hat v_t` of :func:`adam` and :math:`\eta_t` the schedule
    multiplier. Here ``learning_rate`` is :math:`\alpha_t = \eta_t \alpha` and
    ``weight_decay`` is :math:`\lambda_t = \eta_t \lambda`: with a constant
    :math:`\eta_t = 1` pass numbers; to follow a schedule pass both as schedules, e.g.
    ``learning_rate=lambda k: alpha * eta(k), weight_decay=lambda k: lam * eta(k)``.

    optax's ``adamw`` multiplies the decay by the learning rate,
    :math:`\theta_t = \theta_{t-1} - \alpha_t (\hat m_t / (\sqrt{\hat v_t} + \epsilon) +
    \lambda \theta_{t-1})` (``scale_decay_by_lr=True``): the same :math:`\lambda` decays
    :math:`1/\alpha` times less per step. ``decoupled=False`` is the paper's
    "Adam with L2 regularization" (:math:`g_t \leftarrow g_t + \lambda \theta_{t-1}` before
    the moments), i.e. ``optax.chain(optax.add_decayed_weights(lam, mask), optax.adam(...))``.

    Only the leaves ``mask`` selects decay; funcnn's default is the weights ("w", "w_*"),
    not biases (the paper and optax's default ``mask=None`` decay every parameter).

    Args:
        learning_rate: :math:`\alpha_t`, 0.001 in the paper; a number or a schedule.
        b1, b2, eps: as in :func:`adam`.
        weight_decay: :math:`\lambda \ge 0` (the paper gives no default; 1e-4 is optax's),
            a number or a schedule.
        mask: which leaves decay: a pytree of bools, a callable ``params -> pytree of bools``
            or None (all); default :func:`funcnn.optimizers.weight_mask`.
        decoupled: True (AdamW) or False (Adam with an L2 penalty's gradient).
        scale_decay_by_lr: False: the decay is :math:`\lambda_t \theta` (paper); True:
            :math:`\alpha_t \lambda_t \theta` (optax, PyTorch, funcnn.train).
        bias_correction: as in :func:`adam`.

    Returns:
        ``optax.chain(adam(...), decoupled_weight_decay(...))`` (or the L2 gradient before
        Adam); ``update`` needs ``params``.

    References:
        Loshchilov and Hutter, Decoupled Weight Decay Regularization, ICLR 2019.
    """
    scale = check_flag(scale_decay_by_lr, "scale_decay_by_lr")
    return with_weight_decay(
        adam(learning_rate, b1, b2, eps, bias_correction=bias_correction),
        weight_decay,
        learning_rate=learning_rate if scale else None,
        mask=mask,
        decoupled=decoupled,
    )
