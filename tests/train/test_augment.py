"""The engine's data augmentation and label smoothing: drawn from the run's key per step,
the same in fit and fit_seeds, recorded in the configuration, and validated."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcnn
from funcnn.data import Augment, Dataset
from funcnn.train import RunConfig, fit, fit_seeds, init_state, make_train_step
from funcnn.train.state import augment_key
from tests.train.tiny import close, differ

# Sequences of length 12, 3 classes: a small CNN and the settings every test here shares.
RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 12)).astype(np.float32)
Y = (np.argmax(X[:, :3], axis=1)).astype(np.int32)
DATA = Dataset(X, Y, X[:24], Y[:24], 3, "seq3")
NET = funcnn.cnn(12, 3, channels=(4,), strides=(1,), kernel_size=3)
AUG = Augment(shift=2, scale=0.1, noise=0.05)
RUN = dict(epochs=2, batch_size=8, progress=False, lr=0.05, optimizer="sgd")


def test_the_step_trains_on_the_augmented_batch_of_its_key():
    opt = optax.sgd(0.05)
    state = init_state(NET, opt, jax.random.key(3))
    x, y = jnp.asarray(X[:8]), jnp.asarray(Y[:8])
    augmented = AUG(augment_key(state.key, state.step), x)
    plain = make_train_step(NET, "softmax_cross_entropy", opt, grad_norm=False)
    with_aug = make_train_step(NET, "softmax_cross_entropy", opt, grad_norm=False, augment=AUG)
    copy = lambda s: jax.tree.map(jnp.copy, s)  # noqa: E731  (the steps donate their input)
    expected, m_ref = plain(copy(state), (augmented, y))
    got, m = with_aug(copy(state), (x, y))
    # The same arithmetic compiled into one program or two: equal to float32 rounding.
    close(got.params, expected.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m["loss"], m_ref["loss"], rtol=1e-6)


@pytest.mark.parametrize("grad", ["autodiff", "manual"])
def test_augmented_training_is_reproducible_and_changes_the_run(grad):
    a = fit(NET, DATA, augment=AUG, grad=grad, **RUN)
    b = fit(NET, DATA, augment=AUG, grad=grad, **RUN)
    plain = fit(NET, DATA, grad=grad, **RUN)
    close(a.params, b.params, rtol=0, atol=0)
    assert differ(a.params, plain.params)
    assert a.config["augment"] == {"shift": 2, "scale": 0.1, "shear": 0.0, "noise": 0.05}
    assert plain.config["augment"] is None


def test_fit_seeds_draws_each_runs_augmentation_as_fit_does():
    runs = fit_seeds(NET, DATA, [0, 1], augment=AUG, label_smoothing=0.1, **RUN)
    for i, seed in enumerate((0, 1)):
        one = fit(NET, DATA, seed=seed, augment=AUG, label_smoothing=0.1, **RUN)
        close(jax.tree.map(lambda p, i=i: p[i], runs.params), one.params, rtol=1e-5, atol=1e-6)


def test_label_smoothing_trains_on_the_smoothed_targets():
    eps = 0.2
    smoothed = fit(NET, DATA, label_smoothing=eps, **RUN)
    targets = (1 - eps) * np.eye(3, dtype=np.float32)[Y] + eps / 3
    soft = Dataset(X, targets, X[:24], np.eye(3, dtype=np.float32)[Y[:24]], 3, "seq3")
    reference = fit(NET, soft, loss="softmax_cross_entropy", **RUN)
    close(smoothed.params, reference.params, rtol=1e-5, atol=1e-6)
    # The evaluation stays on the true labels: accuracy is reported, from integer labels.
    assert "test_accuracy" in smoothed.final


def test_manual_gradients_of_the_smoothed_objective_equal_autodiff():
    a = fit(NET, DATA, label_smoothing=0.1, augment=AUG, grad="manual", **RUN)
    b = fit(NET, DATA, label_smoothing=0.1, augment=AUG, grad="autodiff", **RUN)
    close(a.params, b.params, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "options, error, match",
    [
        (dict(label_smoothing=1.0), ValueError, r"label_smoothing must be a number in \[0, 1\)"),
        (dict(label_smoothing=-0.1), ValueError, "label_smoothing must be a finite number >= 0"),
        (dict(label_smoothing=0.1, loss="mse"), ValueError, "applies to softmax_cross_entropy"),
        (dict(augment="shift"), TypeError, "augment must be a funcnn.data.Augment"),
        (dict(augment={"shift": -1}), ValueError, "shift must be a non-negative int"),
    ],
)
def test_bad_options_are_named(options, error, match):
    with pytest.raises(error, match=match):
        RunConfig(**options)


def test_an_inactive_augmentation_is_no_augmentation():
    assert RunConfig(augment=Augment()).augment is None
    assert RunConfig(augment={"shift": 3}).augment == Augment(shift=3)
