"""The optimizers are optax transformations: pure, compiled once, vmappable over traced
hyperparameters, composable with optax, with the state shapes their NamedTuples document."""

import copy
import functools
import inspect
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from funcnn import optimizers as O
from tests.optimizers import problem as P

NAMES = list(O.OPTIMIZERS)


def build(name, lr=P.LR, **kwargs):
    """The optimizer ``name`` with weight decay for "adamw" (so its decay path runs too)."""
    wd = P.WEIGHT_DECAY if name == "adamw" else 0.0
    return O.make(name, lr, weight_decay=wd, **kwargs)


def grads_like(params, seed=0):
    rng = np.random.RandomState(seed)
    return jax.tree.map(lambda p: np.asarray(rng.standard_normal(np.shape(p)), p.dtype), params)


@pytest.mark.parametrize("conventions", ["paper", "optax"])
@pytest.mark.parametrize("name", NAMES)
def test_update_is_pure(name, conventions):
    """update neither mutates its inputs nor keeps hidden state: two calls, same outputs."""
    params = jax.tree.map(np.asarray, P.init_params("rnn", np.float32))
    opt = build(name, conventions=conventions)
    state = opt.init(params)
    grads = grads_like(params)
    _, state = opt.update(grads, state, params)  # a state past its first step
    inputs = (grads, state, params)
    before = copy.deepcopy(jax.tree.map(np.array, inputs))
    first = opt.update(*inputs)
    second = opt.update(*inputs)
    chex.assert_trees_all_equal(jax.tree.map(np.array, inputs), before)
    chex.assert_trees_all_equal(first, second)
    assert opt.init(params) is not opt.init(params)  # a fresh state each time
    chex.assert_trees_all_equal(opt.init(params), opt.init(params))


@pytest.mark.parametrize("name", NAMES)
def test_a_step_can_donate_the_state(name):
    """No two leaves of a fresh state share a buffer (a training step donates them all)."""
    params = P.init_params("mlp", np.float32)
    state = build(name).init(params)
    step = jax.jit(lambda s: jax.tree.map(lambda a: a + 1, s), donate_argnums=0)
    jax.block_until_ready(step(state))


@pytest.mark.parametrize("name", NAMES)
def test_no_retrace_on_later_calls(name):
    chex.clear_trace_counter()  # the counter is per function source, shared by parameters
    params = P.init_params("mlp", np.float32)
    opt = build(name, lr=P.schedule)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = opt.init(params)
    for seed in range(3):
        params, state = step(params, state, grads_like(params, seed))
    assert int(jax.tree.leaves(state)[0]) == 3  # count


# Every float hyperparameter of each optimizer, with two values: row i of the grid sets each
# hyperparameter to its i-th value, so one vmapped run traces all of them at once.
GRIDS = {
    "sgd": {"learning_rate": (1e-2, 3e-2)},
    "momentum": {"learning_rate": (1e-2, 3e-2), "momentum": (0.5, 0.9)},
    "nesterov": {"learning_rate": (1e-2, 3e-2), "momentum": (0.5, 0.9)},
    "adagrad": {
        "learning_rate": (1e-2, 3e-2),
        "eps": (1e-7, 1e-2),
        "initial_accumulator_value": (0.0, 0.5),
    },
    "rmsprop": {
        "learning_rate": (1e-2, 3e-2),
        "decay": (0.5, 0.9),
        "eps": (1e-8, 1e-2),
        "initial_scale": (0.0, 1.0),
    },
    "adam": {
        "learning_rate": (1e-2, 3e-2),
        "b1": (0.5, 0.9),
        "b2": (0.9, 0.999),
        "eps": (1e-8, 1e-2),
    },
    "adamw": {
        "learning_rate": (1e-2, 3e-2),
        "b1": (0.5, 0.9),
        "b2": (0.9, 0.999),
        "eps": (1e-8, 1e-2),
        "weight_decay": (1e-3, 0.1),
    },
}
GRID_STEPS = 20


def _train(opt, params, steps=GRID_STEPS):
    """``steps`` updates on the problem's gradient, in a scan; the final parameters."""
    flat0, unravel = ravel_pytree(params)
    problem = P.make_problem(flat0.size)
    H, c, noise = (jnp.asarray(a, flat0.dtype) for a in problem[:3])

    def step(carry, k):
        p, s = carry
        theta = ravel_pytree(p)[0]
        u, s = opt.update(unravel(H @ (theta - c) + noise[k]), s, p)
        return (optax.apply_updates(p, u), s), None

    return jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))[0][0]


@functools.cache
def grid_runs():
    """For every optimizer: the vmapped run over its stacked grid, and a run per row with the
    values as Python floats. One compiled program."""
    params = P.init_params("mlp", np.float32)

    def all_runs(params):
        out = {}
        for name, grid in GRIDS.items():
            factory = O.OPTIMIZERS[name]
            stacked = {h: jnp.asarray(values, jnp.float32) for h, values in grid.items()}
            out[(name, "vmap")] = jax.vmap(
                lambda hyper, factory=factory: _train(factory(**hyper), params)
            )(stacked)
            for i in range(2):  # the same float32 values, as Python floats
                row = {h: float(np.float32(values[i])) for h, values in grid.items()}
                out[(name, str(i))] = _train(factory(**row), params)
        return out

    return jax.jit(all_runs).lower(params).compile(P._COMPILER_OPTIONS)(params)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_traced_hyperparameters(name):
    """Each row of the vmapped grid equals the run with that row's values as Python floats."""
    runs = grid_runs()
    rows = [jax.tree.map(lambda x, i=i: x[i], runs[(name, "vmap")]) for i in range(2)]
    for i, row in enumerate(rows):
        chex.assert_trees_all_close(row, runs[(name, str(i))], rtol=1e-5, atol=1e-6)
    # the two rows lead to different runs (the hyperparameters are used)
    diff = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), rows[0], rows[1])
    assert max(jax.tree.leaves(diff)) > 1e-3


def test_inject_hyperparams_changes_the_learning_rate_in_the_state():
    """optax.inject_hyperparams calls the factory with traced arrays: it works, and setting
    the injected learning rate changes the next step as a new optimizer would."""
    params = P.init_params("mlp", np.float32)
    grads = grads_like(params)
    opt = optax.inject_hyperparams(O.adam)(learning_rate=1e-3, b1=0.9)
    state = opt.init(params)
    u1, state = jax.jit(opt.update)(grads, state, params)
    ref = O.adam(1e-3)
    ref_state = ref.init(params)
    r1, ref_state = ref.update(grads, ref_state, params)
    # float32 hyperparameters round 1 - b2 and 1 - b2**t alike, Python floats do not: 1e-5
    chex.assert_trees_all_close(u1, r1, rtol=2e-5)
    state.hyperparams["learning_rate"] = jnp.asarray(1e-2)
    u2, _ = jax.jit(opt.update)(grads, state, params)
    r2, _ = O.adam(1e-2).update(grads, ref_state, params)
    chex.assert_trees_all_close(u2, r2, rtol=2e-5)
    assert not np.allclose(u2[0]["w"], u1[0]["w"], rtol=0.1)


def test_composes_with_optax_chain_and_apply_updates():
    params = P.init_params("rnn", np.float32)
    grads = jax.tree.map(lambda g: 100 * g, grads_like(params))
    opt = optax.chain(optax.clip_by_global_norm(1.0), O.momentum(0.1))
    state = opt.init(params)
    updates, state = jax.jit(opt.update)(grads, state, params)
    new = optax.apply_updates(params, updates)
    # the first step is -lr times the clipped gradient
    clipped = optax.clip_by_global_norm(1.0).update(grads, optax.EmptyState())[0]
    expected = jax.tree.map(lambda p, g: p - 0.1 * g, params, clipped)
    chex.assert_trees_all_close(new, expected, rtol=1e-6)
    assert isinstance(opt, optax.GradientTransformation)


@pytest.mark.parametrize("name", NAMES)
def test_float32_parameters_stay_float32_under_a_float64_schedule(name):
    """With x64 on, a schedule returns float64; updates and state keep the parameters' dtype
    (else apply_updates would round silently and a scan carry would change type)."""
    with jax.enable_x64(True):
        params = P.init_params("rnn", np.float32)
        opt = build(name, lr=P.schedule)
        assert P.schedule(jnp.int32(0)).dtype == jnp.float64
        state = opt.init(params)
        updates, after = opt.update(grads_like(params), state, params)
        chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
        chex.assert_trees_all_equal_shapes_and_dtypes(after, state)


# --- state shapes: the comment of every NamedTuple field says its shape -------------------

STATE_TYPES = [
    O.SGDState,
    O.MomentumState,
    O.AdagradState,
    O.RMSPropState,
    O.AdamState,
    O.WeightDecayState,
]


def documented_shapes(cls) -> dict[str, str]:
    """field -> "()" or "params", read from the comments of the NamedTuple's source."""
    source = inspect.getsource(cls)
    found = dict(re.findall(r"^\s+(\w+): [\w.]+\s+# (shape \(\)|shapes of params)", source, re.M))
    return {k: "()" if v == "shape ()" else "params" for k, v in found.items()}


@pytest.mark.parametrize("cls", STATE_TYPES, ids=lambda c: c.__name__)
def test_every_state_field_documents_its_shape(cls):
    assert set(documented_shapes(cls)) == set(cls._fields)


@pytest.mark.parametrize("pytree", list(P.SHAPES))
@pytest.mark.parametrize("name", NAMES)
def test_states_have_the_documented_shapes(name, pytree):
    params = P.init_params(pytree, np.float32)
    opt = build(name, lr=P.schedule)
    state = opt.init(params)
    _, after = opt.update(grads_like(params), state, params)
    nodes = [s for s in jax.tree.leaves(after, is_leaf=lambda x: type(x) in STATE_TYPES)]
    states = [s for s in nodes if type(s) in STATE_TYPES]
    assert states, f"no documented state in {after!r:.200}"
    for s in states:
        for field, shape in documented_shapes(type(s)).items():
            value = getattr(s, field)
            if shape == "()":
                chex.assert_shape(value, ())
                assert value.dtype == jnp.int32 and int(value) == 1
            else:
                chex.assert_trees_all_equal_shapes_and_dtypes(value, params)
    # init and update give the same structure, shapes and dtypes (scan and jit rely on it)
    chex.assert_trees_all_equal_shapes_and_dtypes(state, after)


@pytest.mark.parametrize("conventions", ["paper", "optax"])
def test_adam_with_weight_decay_is_adamw(conventions):
    """As in funcnn.train: "adamw" is "adam" with weight decay (and equal at 0)."""
    params = P.init_params("rnn", np.float32)
    grads = grads_like(params)
    for wd in (0.0, 0.1):
        a = O.make("adam", 1e-2, weight_decay=wd, conventions=conventions)
        b = O.make("adamw", 1e-2, weight_decay=wd, conventions=conventions)
        ua = a.update(grads, a.init(params), params)[0]
        ub = b.update(grads, b.init(params), params)[0]
        chex.assert_trees_all_close(ua, ub, rtol=1e-6)


def test_registry_uses_the_engines_names():
    """The names shared with funcnn.train's optimizers, so the engine can switch to these."""
    assert list(O.OPTIMIZERS) == [
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
    ]
    try:
        from funcnn.train.optim import OPTIMIZERS as ENGINE
    except ImportError as err:  # the engine is optional for this module
        pytest.skip(f"funcnn.train.optim not importable: {err}")
    assert set(ENGINE) <= set(O.OPTIMIZERS)
    for name in O.OPTIMIZERS:
        assert O.options(name)  # every name has its options listed
