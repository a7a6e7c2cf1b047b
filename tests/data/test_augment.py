"""Augment: each transformation does what its docstring says, from the key, per example."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn.data import Augment

X = jnp.tile(jnp.arange(10.0)[None, :], (64, 1))  # every row 0..9


def test_identity_when_inactive_and_deterministic_from_the_key():
    assert Augment()(jax.random.key(0), X) is X
    aug = Augment(shift=3, scale=0.2, shear=0.5, noise=0.1)
    a, b = aug(jax.random.key(1), X), aug(jax.random.key(1), X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, aug(jax.random.key(2), X))
    assert a.shape == X.shape and a.dtype == X.dtype


def test_shift_is_a_circular_roll_within_range_and_uses_every_offset():
    out = np.asarray(Augment(shift=2)(jax.random.key(3), X))
    rolls = []
    for row in out:
        (s,) = [s for s in range(-2, 3) if np.array_equal(row, np.roll(np.arange(10.0), s))]
        rolls.append(s)
    assert set(rolls) == {-2, -1, 0, 1, 2}


def test_scale_multiplies_each_example_by_one_factor_in_range():
    out = np.asarray(Augment(scale=0.25)(jax.random.key(4), X + 1.0))
    factors = out / np.asarray(X + 1.0)
    np.testing.assert_allclose(factors, factors[:, :1] * np.ones((1, 10)), rtol=1e-6)
    assert 0.75 <= factors.min() < 0.85 and 1.15 < factors.max() <= 1.25


def test_shear_adds_a_ramp_and_noise_has_its_scale():
    out = np.asarray(Augment(shear=0.4)(jax.random.key(5), X)) - np.asarray(X)
    ramp = np.linspace(-0.5, 0.5, 10)
    slopes = out[:, -1] - out[:, 0]
    np.testing.assert_allclose(out, slopes[:, None] * ramp[None, :], atol=1e-6)
    assert np.abs(slopes).max() <= 0.4 + 1e-6
    noise = np.asarray(Augment(noise=0.1)(jax.random.key(6), jnp.zeros((500, 40))))
    assert abs(noise.std() - 0.1) < 0.005 and abs(noise.mean()) < 0.005


def test_channels_last_sequences_shift_every_channel_together():
    x = jnp.stack([X, -X], axis=-1)  # (64, 10, 2)
    out = np.asarray(Augment(shift=4)(jax.random.key(7), x))
    np.testing.assert_array_equal(out[..., 1], -out[..., 0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(shift=-1), "shift must be a non-negative int"),
        (dict(shift=1.5), "shift must be a non-negative int"),
        (dict(scale=1.0), "scale must be < 1"),
        (dict(noise=-0.1), "noise must be a finite number >= 0"),
        (dict(shear=float("nan")), "shear must be a finite number >= 0"),
    ],
)
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Augment(**kwargs)


def test_rank_is_checked():
    with pytest.raises(ValueError, match="x must have rank 2 or 3"):
        Augment(noise=0.1)(jax.random.key(0), jnp.ones((3,)))
