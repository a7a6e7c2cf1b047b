"""Set to optax's conventions, every optimizer equals optax's own over 100 steps.

A shared table of cases (each optimizer, and the options that have an optax counterpart)
crossed with three parameter pytrees, float32 and float64, a constant learning rate and a
schedule (``RUNS``). Every case of one pytree and dtype runs in a single compiled program.
"""

import functools

import jax
import numpy as np
import optax
import pytest

from funcnn import optimizers as O
from tests.optimizers import problem as P

WD = P.WEIGHT_DECAY

# case -> (funcnn's optimizer, optax's), each a function of the learning rate.
CASES = {
    **{
        name: (
            functools.partial(O.make, name, conventions="optax", momentum=P.MOMENTUM),
            functools.partial(P.optax_reference, name),
        )
        for name in O.OPTIMIZERS
    },
    "adamw, weight_decay": (
        lambda lr: O.make("adamw", lr, weight_decay=WD, conventions="optax"),
        lambda lr: optax.adamw(lr, weight_decay=WD, mask=O.weight_mask),
    ),
    "adamw, weight_decay, mask=None": (
        lambda lr: O.make("adamw", lr, weight_decay=WD, conventions="optax", mask=None),
        lambda lr: optax.adamw(lr, weight_decay=WD),
    ),
    "adamw, decoupled=False": (
        lambda lr: O.make("adamw", lr, weight_decay=WD, conventions="optax", decoupled=False),
        lambda lr: optax.chain(optax.add_decayed_weights(WD, O.weight_mask), optax.adam(lr)),
    ),
    "momentum, weight_decay": (
        lambda lr: O.make("momentum", lr, weight_decay=WD, conventions="optax"),
        lambda lr: P.optax_reference("momentum", lr, WD),
    ),
    "rmsprop, bias_correction=True, initial_scale=1": (
        lambda lr: O.make(
            "rmsprop", lr, conventions="optax", bias_correction=True, initial_scale=1.0
        ),
        lambda lr: optax.rmsprop(lr, bias_correction=True, initial_scale=1.0),
    ),
}
LEARNING_RATES = {"constant": P.LR, "schedule": P.schedule}
DTYPES = {"float32": np.float32, "float64": np.float64}

# The crossing: the MLP pytree in float64 with both learning rates; in float32, and the
# recurrent and nested pytrees (w_* weights, scalar leaves, tuples), under the schedule, the
# harder case: it is where momentum's forms differ (compile time grows with every run).
RUNS = {
    ("mlp", "float32"): ("schedule",),
    ("mlp", "float64"): ("constant", "schedule"),
    ("rnn", "float32"): ("schedule",),
    ("nested", "float32"): ("schedule",),
}


@functools.cache
def trajectories(pytree: str, dtype: str):
    """Every case x learning rate of ``RUNS``, funcnn and optax side by side: one program."""
    with jax.enable_x64(dtype == "float64"):
        transforms = {}
        for case, (ours, theirs) in CASES.items():
            for kind in RUNS[(pytree, dtype)]:
                lr = LEARNING_RATES[kind]
                transforms[(case, kind, "funcnn")] = ours(lr)
                transforms[(case, kind, "optax")] = theirs(lr)
        return P.run(transforms, P.init_params(pytree, DTYPES[dtype]))


@pytest.mark.parametrize(
    "pytree, dtype, kind",
    [(tree, dtype, kind) for (tree, dtype), kinds in RUNS.items() for kind in kinds],
)
@pytest.mark.parametrize("case", CASES)
def test_equals_optax_over_100_steps(case, pytree, dtype, kind):
    runs = trajectories(pytree, dtype)
    ours, theirs = runs[(case, kind, "funcnn")], runs[(case, kind, "optax")]
    assert ours.dtype == DTYPES[dtype]
    # Rounding only: 64 units in the last place of the largest parameter. A different
    # convention moves float64 runs by 1e-9 or more (docs/optimizers.md).
    tol = 64 * np.finfo(DTYPES[dtype]).eps * np.abs(theirs).max()
    err = np.abs(ours - theirs).max(axis=1)
    assert err.max() <= tol, f"off by {err.max():.1e} > {tol:.1e} from step {np.argmax(err > tol)}"
    # The parameters did move, so the equality is not vacuous.
    assert np.abs(theirs[-1] - theirs[0]).max() > 100 * tol
