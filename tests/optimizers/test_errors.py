"""Bad hyperparameters and calls get errors that name the argument and what it must be."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import optimizers as O

NAN = float("nan")

# (call, exception, a regex the message must match)
BAD = {
    "negative lr": (lambda: O.sgd(-0.1), ValueError, r"learning_rate must be a positive"),
    "zero lr": (lambda: O.adam(0.0), ValueError, r"learning_rate must be a positive.*got 0\.0"),
    "nan lr": (lambda: O.momentum(NAN), ValueError, r"learning_rate .*got nan"),
    "negative lr array": (lambda: O.rmsprop(jnp.float32(-1)), ValueError, r"learning_rate"),
    "lr string": (lambda: O.sgd("0.1"), TypeError, r"learning_rate must be .*got str"),
    "lr bool": (lambda: O.adagrad(True), TypeError, r"learning_rate must be .*got bool"),
    "lr vector": (lambda: O.sgd(jnp.ones(2)), TypeError, r"learning_rate .*scalar.*\(2,\)"),
    "momentum 1": (lambda: O.momentum(0.1, 1.0), ValueError, r"momentum must be .*\[0, 1\)"),
    "momentum < 0": (lambda: O.nesterov(0.1, -0.5), ValueError, r"momentum must be .*\[0, 1\)"),
    "b1 = 1": (lambda: O.adam(b1=1.0), ValueError, r"b1 must be a decay rate in \[0, 1\)"),
    "b2 < 0": (lambda: O.adamw(b2=-0.1), ValueError, r"b2 must be a decay rate in \[0, 1\)"),
    "rho > 1": (lambda: O.rmsprop(0.1, decay=1.5), ValueError, r"decay must be .*\[0, 1\)"),
    "eps = 0": (lambda: O.adam(eps=0.0), ValueError, r"eps must be a positive"),
    "eps < 0": (lambda: O.adagrad(0.1, eps=-1e-7), ValueError, r"eps must be a positive"),
    "eps nan": (lambda: O.rmsprop(0.1, eps=NAN), ValueError, r"eps must be a positive"),
    "negative accumulator": (
        lambda: O.adagrad(0.1, initial_accumulator_value=-1.0),
        ValueError,
        r"initial_accumulator_value must be a finite number >= 0",
    ),
    "negative initial scale": (
        lambda: O.rmsprop(0.1, initial_scale=-1.0),
        ValueError,
        r"initial_scale must be",
    ),
    "negative weight decay": (
        lambda: O.adamw(weight_decay=-1e-4),
        ValueError,
        r"weight_decay must be a finite number >= 0",
    ),
    "negative weight decay (make)": (
        lambda: O.make("sgd", 0.1, weight_decay=-1.0),
        ValueError,
        r"weight_decay must be",
    ),
    "flag not a bool": (
        lambda: O.adagrad(0.1, eps_in_sqrt=1),
        TypeError,
        r"eps_in_sqrt must be True or False",
    ),
    "decoupled not a bool": (
        lambda: O.adamw(decoupled="yes"),
        TypeError,
        r"decoupled must be True or False",
    ),
    "unknown form": (
        lambda: O.momentum(0.1, form="nesterov"),
        ValueError,
        r"unknown form 'nesterov'; valid names are: trace, velocity",
    ),
    "unknown optimizer": (
        lambda: O.make("adamax", 0.1),
        ValueError,
        r"unknown optimizer 'adamax'; valid names are: adagrad, adam, adamw, momentum, "
        r"nesterov, rmsprop, sgd\.",
    ),
    "unknown conventions": (
        lambda: O.make("adam", 0.1, conventions="pytorch"),
        ValueError,
        r"unknown conventions 'pytorch'; valid names are: optax, paper\.",
    ),
    "unknown option": (
        lambda: O.make("adam", 0.1, eps_in_sqrt=True),
        TypeError,
        r"optimizer \"adam\" got unknown options \['eps_in_sqrt'\]; valid options: b1, b2, eps, "
        r"bias_correction, decoupled, scale_decay_by_lr\.",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_names_the_argument(case):
    call, exc, pattern = BAD[case]
    with pytest.raises(exc, match=pattern):
        call()


def test_traced_flag_asks_for_a_static_value():
    with pytest.raises(TypeError, match=r"eps_in_sqrt must be True or False \(a static"):
        jax.jit(lambda flag: O.rmsprop(0.1, eps_in_sqrt=flag))(True)


def test_traced_values_are_not_range_checked_but_accepted():
    """Under jit the value of a traced hyperparameter is unknown: it passes the checks."""
    out = jax.jit(
        lambda lr, b1: O.adam(lr, b1).update({"w": jnp.ones(2)}, O.adam().init({"w": jnp.ones(2)}))[
            0
        ]
    )
    np.testing.assert_allclose(out(1e-3, 0.9)["w"], -1e-3, rtol=1e-4)


def test_update_without_params_where_decay_needs_them():
    opt = O.adamw()
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match=r"decoupled_weight_decay needs the current parameters"):
        opt.update(params, opt.init(params))


def test_bad_masks():
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    opt = O.adamw(mask={"w": True})
    with pytest.raises(ValueError, match=r"mask must be a pytree of bools with the structure"):
        opt.update(params, opt.init(params), params)
    opt = O.adamw(mask={"w": jnp.array(True), "b": False})
    with pytest.raises(TypeError, match=r"mask must hold static Python bools"):
        opt.update(params, opt.init(params), params)
