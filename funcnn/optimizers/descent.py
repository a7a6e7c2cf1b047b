"""Gradient descent with and without momentum: SGD, heavy ball (Polyak) and Nesterov.

Momentum has two forms that are the same algorithm at a constant learning rate and differ
under a schedule ``eta_k``:

* ``form="velocity"`` (Polyak 1964; Sutskever et al. 2013, eq. 1-4): the velocity carries
  the step, ``v <- mu v - eta_k g``, ``w <- w + v``; a past gradient keeps the rate of its
  own step.
* ``form="trace"`` (optax's ``trace``, PyTorch's ``SGD``): the velocity sums gradients,
  ``m <- mu m + g``, ``w <- w - eta_k m``; today's rate rescales every past gradient.

With ``eta`` constant, ``v = -eta m`` at every step, so the iterates agree to rounding.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcnn import checks
from funcnn.optimizers.base import (
    check_decay_rate,
    check_learning_rate,
    next_count,
    value_at,
    zero_count,
)

FORMS: dict[str, str] = {
    "velocity": "v <- mu v - eta_k g; w <- w + v   (Polyak 1964; Sutskever et al. 2013)",
    "trace": "m <- mu m + g; w <- w - eta_k m   (optax.trace, PyTorch SGD)",
}


class SGDState(NamedTuple):
    """State of :func:`sgd`."""

    count: jax.Array  # shape (), int32: updates made so far, the k of eta_k


class MomentumState(NamedTuple):
    """State of :func:`momentum` and :func:`nesterov`."""

    count: jax.Array  # shape (), int32: updates made so far, the k of eta_k
    velocity: optax.Updates  # shapes of params: v of form "velocity", m of form "trace"


def sgd(learning_rate) -> optax.GradientTransformation:
    r"""Stochastic gradient descent, the lecture's update (u.1).

    .. math::

        w_{k+1} = w_k - \eta_k g_k

    Args:
        learning_rate: :math:`\eta`, a positive number (a traced scalar under ``jax.vmap``
            is accepted) or a schedule :math:`k \mapsto \eta_k`.

    Returns:
        An ``optax.GradientTransformation`` whose updates are :math:`-\eta_k g_k`.

    Examples:
        >>> import jax.numpy as jnp
        >>> params, grads = {"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([0.5, -1.0])}
        >>> opt = sgd(0.1)
        >>> updates, state = opt.update(grads, opt.init(params))
        >>> [round(float(w), 6) for w in optax.apply_updates(params, updates)["w"]]
        [0.95, 2.1]

    References:
        Robbins and Monro, A Stochastic Approximation Method, 1951.
    """
    check_learning_rate(learning_rate)

    def init(params):
        del params
        return SGDState(count=zero_count())

    def update(updates, state, params=None):
        del params
        eta = value_at(learning_rate, state.count)
        updates = jax.tree.map(lambda g: (-eta * g).astype(g.dtype), updates)
        return updates, SGDState(count=next_count(state.count))

    return optax.GradientTransformation(init, update)


def _momentum(learning_rate, mu, form: str, nesterov: bool) -> optax.GradientTransformation:
    check_learning_rate(learning_rate)
    check_decay_rate(mu, "momentum")
    checks.check_static(form, "form", fix=f"pass one of {sorted(FORMS)}")
    checks.check_choice(form, FORMS, "form")

    def init(params):
        return MomentumState(count=zero_count(), velocity=jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        eta = value_at(learning_rate, state.count)
        step = lambda a, g: (mu * a - eta * g).astype(g.dtype)  # mu a - eta_k g
        if form == "velocity":
            velocity = jax.tree.map(step, state.velocity, updates)  # v_{k+1} = mu v_k - eta_k g_k
            if nesterov:  # Theta_{k+1} - Theta_k = mu v_{k+1} - eta_k g_k
                updates = jax.tree.map(step, velocity, updates)
            else:  # w_{k+1} - w_k = v_{k+1}
                updates = velocity
        else:
            acc = lambda m, g: (g + mu * m).astype(g.dtype)
            velocity = jax.tree.map(acc, state.velocity, updates)  # m_{k+1} = mu m_k + g_k
            # -eta_k m_{k+1}, or -eta_k (g_k + mu m_{k+1}) for Nesterov
            direction = jax.tree.map(acc, velocity, updates) if nesterov else velocity
            updates = jax.tree.map(lambda d: (-eta * d).astype(d.dtype), direction)
        return updates, MomentumState(count=next_count(state.count), velocity=velocity)

    return optax.GradientTransformation(init, update)


def momentum(learning_rate, momentum: float = 0.9, *, form: str = "velocity"):
    r"""Heavy-ball momentum (Polyak 1964).

    Polyak's two-step recurrence :math:`w_{k+1} = w_k - \eta_k g_k + \mu (w_k - w_{k-1})`
    written with the velocity :math:`v_k = w_k - w_{k-1}` (Sutskever et al. 2013, eq. 1-2):

    .. math::

        v_{k+1} = \mu v_k - \eta_k g_k, \qquad w_{k+1} = w_k + v_{k+1}

    ``form="trace"`` is optax's ``sgd(momentum=mu)``: :math:`m_{k+1} = \mu m_k + g_k`,
    :math:`w_{k+1} = w_k - \eta_k m_{k+1}`; the same iterates for a constant :math:`\eta`,
    different ones under a schedule (module docstring).

    Args:
        learning_rate: :math:`\eta`, a positive number or a schedule :math:`k \mapsto \eta_k`.
        momentum: :math:`\mu \in [0, 1)`; 0.9 as in Sutskever et al. (who also use 0.99+).
        form: ``"velocity"`` (the papers') or ``"trace"`` (optax's).

    Returns:
        An ``optax.GradientTransformation``; its state is a :class:`MomentumState`.

    References:
        Polyak, Some methods of speeding up the convergence of iteration methods, 1964.
        Sutskever, Martens, Dahl and Hinton, On the importance of initialization and
        momentum in deep learning, ICML 2013.
    """
    return _momentum(learning_rate, momentum, form, nesterov=False)


def nesterov(learning_rate, momentum: float = 0.9, *, form: str = "velocity"):
    r"""Nesterov's accelerated gradient in the form of Sutskever et al. (2013, eq. 3-4).

    The paper takes the gradient at the look-ahead point :math:`\theta_k + \mu v_k`:

    .. math::

        v_{k+1} = \mu v_k - \eta_k \nabla f(\theta_k + \mu v_k), \qquad
        \theta_{k+1} = \theta_k + v_{k+1}

    A gradient transformation only sees the gradient at the parameters it updates, so those
    parameters are the look-ahead point :math:`\Theta_k = \theta_k + \mu v_k` (the change of
    variables of Bengio et al. 2013), and the same algorithm reads

    .. math::

        v_{k+1} = \mu v_k - \eta_k g_k, \qquad
        \Theta_{k+1} = \Theta_k + \mu v_{k+1} - \eta_k g_k, \qquad g_k = \nabla f(\Theta_k)

    The paper's :math:`\theta_k` is ``params - momentum * state.velocity`` (they coincide at
    the start, where :math:`v_0 = 0`). ``form="trace"`` is optax's
    ``sgd(momentum=mu, nesterov=True)``: :math:`m_{k+1} = \mu m_k + g_k`,
    :math:`\Theta_{k+1} = \Theta_k - \eta_k (g_k + \mu m_{k+1})`, which is the same
    algorithm for a constant :math:`\eta` (:math:`v = -\eta m`) and differs under a schedule.

    Args:
        learning_rate: :math:`\eta`, a positive number or a schedule :math:`k \mapsto \eta_k`.
        momentum: :math:`\mu \in [0, 1)`.
        form: ``"velocity"`` (the paper's) or ``"trace"`` (optax's).

    Returns:
        An ``optax.GradientTransformation``; its state is a :class:`MomentumState`.

    References:
        Nesterov, A method for solving the convex programming problem with convergence rate
        O(1/k^2), 1983. Sutskever, Martens, Dahl and Hinton, ICML 2013. Bengio,
        Boulanger-Lewandowski and Pascanu, Advances in optimizing recurrent networks, 2013.
    """
    return _momentum(learning_rate, momentum, form, nesterov=True)
