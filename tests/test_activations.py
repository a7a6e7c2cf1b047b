"""Activations: f' against jax.grad, the kink conventions, stability at +-1e4."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import activations as A
from tests.helpers import once

# Points away from every kink (0 for relu/leaky/heaviside).
POINTS = np.array([-7.5, -3.0, -1.2, -0.4, -0.05, 0.03, 0.3, 0.9, 2.2, 6.0])


def _autodiff_derivative(f, x):
    return jax.vmap(jax.grad(f))(x)


@functools.cache
def _derivatives(dtype: str) -> dict:
    """Per differentiable activation, at POINTS: ``(df, jax.grad of f, central difference)``,
    all in one compiled program (one program per op and activation is much slower)."""
    h = 1e-6
    with jax.enable_x64(dtype == "float64"):

        def everything(x):
            return {
                name: (
                    A.get_activation(name).df(x),
                    _autodiff_derivative(A.get_activation(name).f, x),
                    (A.get_activation(name).f(x + h) - A.get_activation(name).f(x - h)) / (2 * h),
                )
                for name in A.DIFFERENTIABLE
            }

        return once(everything, jnp.asarray(POINTS, dtype))


@pytest.mark.parametrize("name", A.DIFFERENTIABLE)
def test_derivative_matches_jax_grad_float64(name):
    df, auto, _ = _derivatives("float64")[name]
    assert df.dtype == jnp.float64
    np.testing.assert_allclose(df, auto, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", A.DIFFERENTIABLE)
def test_derivative_matches_jax_grad_float32(name):
    df, auto, _ = _derivatives("float32")[name]
    assert df.dtype == jnp.float32
    np.testing.assert_allclose(df, auto, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", A.DIFFERENTIABLE)
def test_derivative_matches_central_difference(name):
    df, _, fd = _derivatives("float64")[name]
    np.testing.assert_allclose(df, fd, rtol=1e-6, atol=1e-8)


def test_values_against_direct_formulas():
    x = jnp.asarray(POINTS, dtype=jnp.float32)
    xn = POINTS.astype(np.float64)
    np.testing.assert_allclose(A.sigmoid(x), 1 / (1 + np.exp(-xn)), rtol=1e-6)
    np.testing.assert_allclose(A.tanh(x), np.tanh(xn), rtol=1e-6)
    np.testing.assert_allclose(A.relu(x), np.maximum(xn, 0), rtol=1e-7)
    np.testing.assert_allclose(A.leaky_relu(x), np.where(xn > 0, xn, 0.01 * xn), rtol=1e-6)
    np.testing.assert_allclose(A.softplus(x), np.log1p(np.exp(xn)), rtol=1e-6)
    np.testing.assert_allclose(A.heaviside(x), (xn >= 0).astype(float))
    from math import erf

    gelu_ref = np.array([v * 0.5 * (1 + erf(v / np.sqrt(2))) for v in xn])
    np.testing.assert_allclose(A.gelu(x), gelu_ref, rtol=1e-5, atol=1e-7)


def test_kink_conventions():
    zero = jnp.zeros((3,))
    # ReLU'(0) = 0 (the left derivative, as the digest chooses), and jax.grad agrees.
    np.testing.assert_array_equal(A.d_relu(zero), 0.0)
    assert float(jax.grad(A.relu)(0.0)) == 0.0
    # Leaky ReLU'(0) = alpha.
    np.testing.assert_allclose(A.d_leaky_relu(zero), A.LEAKY_RELU_SLOPE)
    assert float(jax.grad(A.leaky_relu)(0.0)) == pytest.approx(A.LEAKY_RELU_SLOPE)
    # The step: 1 at t = 0 (t >= 0 fires), derivative 0 everywhere, and jax.grad agrees.
    np.testing.assert_array_equal(A.heaviside(zero), 1.0)
    np.testing.assert_array_equal(A.d_heaviside(jnp.asarray(POINTS)), 0.0)
    assert float(jax.grad(A.heaviside)(0.0)) == 0.0
    assert float(jax.grad(A.heaviside)(1.5)) == 0.0


@functools.cache
def _at_large_inputs() -> dict:
    """Per activation: ``(f, df, jax.grad of f)`` at +-50 and +-1e4, float32, one program."""

    def everything(x):
        return {
            name: (act.f(x), act.df(x), _autodiff_derivative(act.f, x))
            for name, act in A.ACTIVATIONS.items()
        }

    return once(everything, jnp.asarray([-1e4, -50.0, 50.0, 1e4], dtype=jnp.float32))


@pytest.mark.parametrize("name", list(A.ACTIVATIONS))
def test_stable_at_large_inputs(name):
    for values in _at_large_inputs()[name]:
        assert bool(jnp.all(jnp.isfinite(values)))


def test_saturation_values():
    x = jnp.asarray([-1e4, 1e4], dtype=jnp.float32)
    np.testing.assert_array_equal(A.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(A.d_sigmoid(x), [0.0, 0.0])
    np.testing.assert_allclose(A.softplus(x), [0.0, 1e4])
    np.testing.assert_array_equal(A.tanh(x), [-1.0, 1.0])
    np.testing.assert_allclose(A.gelu(x), [0.0, 1e4])


def test_softplus_derivative_at_exactly_zero_is_one_half():
    # softplus'(0) = sigmoid(0) = 1/2: the manual derivative and jax.grad agree at the origin.
    with jax.enable_x64(True):
        assert float(jax.grad(A.softplus)(0.0)) == 0.5
        assert float(A.d_softplus(jnp.zeros(()))) == 0.5


def test_registry_rejects_unknown_name_listing_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*gelu.*relu.*sigmoid"):
        A.get_activation("swish")
