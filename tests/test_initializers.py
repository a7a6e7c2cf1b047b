"""funcnn.initializers: each scheme's mean and variance, options, determinism from the key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import initializers as I

# (name, expected variance for a (fan_in, fan_out) = (400, 200) weight)
FAN_IN, FAN_OUT = 400, 200
VARIANCES = {
    "normal": 0.01**2,
    "uniform": 0.05**2 / 3,
    "xavier_normal": 2 / (FAN_IN + FAN_OUT),
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT),
    "he_normal": 2 / FAN_IN,
    "he_uniform": 2 / FAN_IN,
}


@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_initializer_mean_and_variance(name, key):
    w = np.asarray(I.get_initializer(name)(key, (FAN_IN, FAN_OUT)), np.float64)
    var = VARIANCES[name]
    n = w.size  # 80,000 draws: the sample variance is within a few percent of the truth
    assert abs(w.mean()) < 5 * np.sqrt(var / n)
    assert w.var() == pytest.approx(var, rel=0.03)
    if "uniform" in name:
        assert np.abs(w).max() <= np.sqrt(3 * var) + 1e-7


def test_zeros_and_options(key):
    assert not np.any(np.asarray(I.zeros(key, (3, 4))))
    w = I.get_initializer("normal", std=2.0)(key, (300, 300))
    assert float(jnp.std(w)) == pytest.approx(2.0, rel=0.02)
    with pytest.raises(ValueError, match="takes no option"):
        I.get_initializer("he_normal", std=1.0)
    with pytest.raises(ValueError, match="unknown initializer 'lecun'.*he_normal"):
        I.get_initializer("lecun")


def test_same_key_same_draw_different_key_different_draw(key):
    a = I.he_normal(key, (5, 5))
    np.testing.assert_array_equal(a, I.he_normal(key, (5, 5)))
    assert not np.allclose(a, I.he_normal(jax.random.fold_in(key, 1), (5, 5)))
