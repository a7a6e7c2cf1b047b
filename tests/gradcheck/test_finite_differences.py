"""funcnn.gradcheck.finite_differences: float64 central differences on every coordinate of small
leaves and a sample of large ones, their noise level, and what they catch that autodiff
cannot."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import gradcheck as gc


def test_large_leaves_get_sampled_coordinates():
    with jax.enable_x64(True):
        params = {"big": jnp.linspace(-1.0, 1.0, 200), "small": jnp.array([0.3, 0.7])}
        loss = lambda p: jnp.sum(jnp.sin(p["big"])) + jnp.sum(p["small"] ** 2)
        fd, noise = gc.finite_difference_grads(loss, params, max_coords=16, key=jax.random.key(1))
        idx, values = fd["['big']"]
        assert idx.size == 16 and len(set(idx.tolist())) == 16
        np.testing.assert_allclose(values, np.cos(np.linspace(-1, 1, 200))[idx], rtol=1e-8)
        np.testing.assert_array_equal(fd["['small']"][0], [0, 1])
        np.testing.assert_allclose(fd["['small']"][1], [0.6, 1.4], rtol=1e-8)
        # The noise is the differences' rounding level at this loss: 64 eps |L| / h.
        value = np.sin(np.linspace(-1.0, 1.0, 200)).sum() + 0.3**2 + 0.7**2
        assert noise == pytest.approx(64 * np.finfo(np.float64).eps * abs(value) / 1e-6)
        report = gc.check_grads(
            lambda p: {"big": jnp.cos(p["big"]), "small": 2 * p["small"]},
            loss,
            params,
            max_fd_coords=16,
        )
        assert report.passed
        assert [r.fd_coords for r in report.rows] == [16, 2]


def test_noise_scales_with_the_loss_and_the_step():
    eps = np.finfo(np.float64).eps
    assert gc.fd_noise(2.0, 1e-6) == 64 * eps * 2.0 / 1e-6
    assert gc.fd_noise(-2.0, 1e-3) == gc.fd_noise(2.0, 1e-6) / 1000


def test_finite_differences_catch_what_autodiff_cannot():
    """A loss with a wrong custom derivative fools jax.grad (the reference) but not the
    finite differences."""

    @jax.custom_jvp
    def cube(x):
        return x**3

    cube.defjvp(lambda primals, tangents: (primals[0] ** 3, 2 * primals[0] ** 2 * tangents[0]))

    with jax.enable_x64(True):
        params = {"w": jnp.array([0.5, -1.0, 2.0])}
        loss = lambda p: jnp.sum(cube(p["w"]))
        wrong_manual = lambda p: {"w": 2 * p["w"] ** 2}  # agrees with the wrong jax.grad
        report = gc.check_grads(wrong_manual, loss, params)
        row = report.rows[0]
        assert row.max_rel_err == 0.0  # autodiff agrees with the wrong gradient
        assert row.max_rel_err_fd == pytest.approx(1 / 3, rel=1e-6)  # 3 w^2 vs 2 w^2
        assert not report.passed


def test_bad_options_are_errors():
    loss = lambda p: jnp.sum(p["w"] ** 2)
    params = {"w": jnp.ones(3)}
    with pytest.raises(ValueError, match="eps must be positive; got 0"):
        gc.finite_difference_grads(loss, params, eps=0)
    with pytest.raises(ValueError, match="max_coords must be a positive integer; got 0"):
        gc.finite_difference_grads(loss, params, max_coords=0)
