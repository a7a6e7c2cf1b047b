"""The problem every optimizer test runs on, and a runner that compiles many runs at once.

The loss is a noisy, non-quadratic bowl over all parameters flattened into one vector
``theta`` of length n::

    f(theta) = 1/2 (theta - c)^T H (theta - c) + kappa/4 sum(theta^4)
    g_k      = H (theta_k - c) + kappa theta_k^3 + sigma xi_k        (xi_k fixed N(0, I) draws)

with ``H = 0.5 I + A A^T / n`` (A standard normal), ``c`` standard normal, ``kappa = 0.1``,
``sigma = 0.1``. The cubic term makes the gradient depend on where it is taken (Nesterov's
look-ahead matters), the noise keeps gradients from vanishing (Adagrad's and Adam's
accumulators keep changing), and ``H`` couples every leaf with every other.

``python -m tests.optimizers.problem`` prints the measured table of ``docs/optimizers.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from funcnn import optimizers as O

STEPS = 100
LR = 1e-2
WEIGHT_DECAY = 1e-2
MOMENTUM = 0.9


def schedule(k):
    """The schedule of the tests and of the docs' table: ``eta_k = 0.01 / (1 + k / 10)``,
    in the default float dtype (float64 under ``jax.enable_x64``), so that the float64 runs
    match the NumPy transcriptions, which compute it in float64 too."""
    return LR / (1 + jnp.asarray(k, float) / 10)


# Shapes of the parameter pytrees: a dense MLP, a recurrent cell (weights "w_x", "w_h" and a
# learned initial state), and a nest of tuples with scalar leaves.
SHAPES = {
    "mlp": [{"w": (4, 3), "b": (3,)}, {"w": (3, 2), "b": (2,)}],
    "rnn": {"w_x": (2, 3), "w_h": (3, 3), "b": (3,), "h0": (3,)},
    "nested": {"scale": (), "layers": ({"w": (2, 2)}, {"w": (2,), "b": ()})},
}


def init_params(name: str, dtype=np.float64, seed: int = 0):
    """The pytree ``SHAPES[name]`` filled with standard normal draws (NumPy, reproducible)."""
    rng = np.random.RandomState(seed)
    is_shape = lambda s: isinstance(s, tuple) and all(isinstance(d, int) for d in s)
    return jax.tree.map(
        lambda s: jnp.asarray(rng.standard_normal(s), dtype), SHAPES[name], is_leaf=is_shape
    )


class Problem(NamedTuple):
    """The loss of the module docstring on n parameters, as NumPy float64 arrays."""

    H: np.ndarray  # (n, n), symmetric positive definite
    c: np.ndarray  # (n,), the minimizer of the quadratic part
    noise: np.ndarray  # (STEPS, n), sigma xi_k
    kappa: float

    def grad(self, theta: np.ndarray, k: int) -> np.ndarray:
        """``g_k`` at ``theta`` in NumPy float64 (the papers' transcriptions use this)."""
        return self.H @ (theta - self.c) + self.kappa * theta**3 + self.noise[k]


def make_problem(n: int, seed: int = 1) -> Problem:
    rng = np.random.RandomState(seed)
    a = rng.standard_normal((n, n))
    return Problem(
        H=0.5 * np.eye(n) + a @ a.T / n,
        c=rng.standard_normal(n),
        noise=0.1 * rng.standard_normal((STEPS, n)),
        kappa=0.1,
    )


_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def run(transforms: dict, params, steps: int = STEPS) -> dict[str, np.ndarray]:
    """Train ``params`` with every transform of ``transforms`` on the problem, in one program.

    Returns, for each name, the flattened parameters before every step and after the last:
    an array of shape ``(steps + 1, n)`` (row k is theta_k).
    """
    flat0, unravel = ravel_pytree(params)
    problem = make_problem(flat0.size)
    H, c, noise = (jnp.asarray(a, flat0.dtype) for a in problem[:3])

    def grad(p, k):
        theta = ravel_pytree(p)[0]
        return unravel(H @ (theta - c) + problem.kappa * theta**3 + noise[k])

    def all_runs(params):
        out = {}
        for name, opt in transforms.items():

            def step(carry, k, opt=opt):
                p, s = carry
                u, s = opt.update(grad(p, k), s, p)
                p = optax.apply_updates(p, u)
                return (p, s), ravel_pytree(p)[0]

            _, thetas = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
            out[name] = jnp.concatenate([ravel_pytree(params)[0][None], thetas])
        return out

    # XLA's backend optimizations take most of the compile time of these many small loops
    # and change no result beyond rounding; the tests compile at level 0.
    compiled = jax.jit(all_runs).lower(params).compile(_COMPILER_OPTIONS)
    return {k: np.asarray(v) for k, v in compiled(params).items()}


# optax's own optimizers, the reference for conventions="optax". With weight decay, the
# reference is the chain funcnn.train builds: direction -> add_decayed_weights -> -lr.
_DIRECTIONS = {
    "sgd": lambda: optax.identity(),
    "momentum": lambda: optax.trace(MOMENTUM),
    "nesterov": lambda: optax.trace(MOMENTUM, nesterov=True),
    "adagrad": lambda: optax.scale_by_rss(),
    "rmsprop": lambda: optax.scale_by_rms(),
    "adam": lambda: optax.scale_by_adam(),
    "adamw": lambda: optax.scale_by_adam(),
}


def optax_reference(name: str, learning_rate, weight_decay: float = 0.0):
    """optax's optimizer ``name`` (its public alias when there is no weight decay)."""
    if weight_decay:
        if name == "adamw":
            return optax.adamw(learning_rate, weight_decay=weight_decay, mask=O.weight_mask)
        return optax.chain(
            _DIRECTIONS[name](),
            optax.add_decayed_weights(weight_decay, mask=O.weight_mask),
            optax.scale_by_learning_rate(learning_rate),
        )
    return {
        "sgd": lambda: optax.sgd(learning_rate),
        "momentum": lambda: optax.sgd(learning_rate, MOMENTUM),
        "nesterov": lambda: optax.sgd(learning_rate, MOMENTUM, nesterov=True),
        "adagrad": lambda: optax.adagrad(learning_rate),
        "rmsprop": lambda: optax.rmsprop(learning_rate),
        "adam": lambda: optax.adam(learning_rate),
        "adamw": lambda: optax.adamw(learning_rate, weight_decay=0.0),
    }[name]()


# The rows of the docs' measured table: (optimizer, weight decay, the options set to the
# paper's values; every other option at optax's). An empty dict would be "all optax's";
# None means every convention at the paper's.
TABLE_ROWS = [
    ("momentum", 0.0, {"form": "velocity"}),
    ("nesterov", 0.0, {"form": "velocity"}),
    ("adagrad", 0.0, {"eps_in_sqrt": False}),
    ("adagrad", 0.0, {"initial_accumulator_value": 0.0}),
    ("adagrad", 0.0, None),
    ("rmsprop", 0.0, {"eps_in_sqrt": False}),
    ("adam", 0.0, None),
    ("adamw", WEIGHT_DECAY, {"scale_decay_by_lr": False}),
    ("sgd", WEIGHT_DECAY, {"scale_decay_by_lr": False}),
]


def row_label(name: str, weight_decay: float, paper_options) -> str:
    """The first cell of a row of the measured table, e.g. ``adagrad: eps_in_sqrt=False``."""
    if paper_options is None:
        what = "all paper conventions"
    else:
        what = ", ".join(f"{k}={v!r}" for k, v in paper_options.items())
    decay = f" (weight_decay={weight_decay:g})" if weight_decay else ""
    return f"{name}{decay}: {what}"


def measure(rows=TABLE_ROWS, pytree: str = "mlp") -> dict[str, list[float]]:
    """max |theta_funcnn - theta_optax| after 3 and 100 steps, constant lr then schedule.

    funcnn runs with optax's conventions except the row's options, set to the paper's (or
    every convention at the paper's), float64, on ``SHAPES[pytree]``.
    """
    with jax.enable_x64(True):
        params = init_params(pytree)
        transforms = {}
        for name, wd, paper_options in rows:
            for kind, lr in (("constant", LR), ("schedule", schedule)):
                if paper_options is None:
                    opt = O.make(name, lr, weight_decay=wd, momentum=MOMENTUM)
                else:
                    opt = O.make(
                        name,
                        lr,
                        weight_decay=wd,
                        momentum=MOMENTUM,
                        conventions="optax",
                        **paper_options,
                    )
                transforms[(row_label(name, wd, paper_options), kind)] = opt
                transforms[(f"optax {name} {wd}", kind)] = optax_reference(name, lr, wd)
        thetas = run(transforms, params)
    table = {}
    for name, wd, paper_options in rows:
        label = row_label(name, wd, paper_options)
        cells = []
        for kind in ("constant", "schedule"):
            diff = np.abs(thetas[(label, kind)] - thetas[(f"optax {name} {wd}", kind)])
            cells += [float(diff[3].max()), float(diff[STEPS].max())]
        table[label] = cells
    return table


ROUNDING = 1e-13
"""Differences below this are float64 rounding; the table writes them as "rounding"."""


def format_cell(x: float) -> str:
    return "rounding" if x < ROUNDING else f"{x:.1e}"


def format_row(label: str, cells) -> str:
    return f"| {label} | " + " | ".join(format_cell(x) for x in cells) + " |"


if __name__ == "__main__":
    for label, cells in measure().items():
        print(format_row(label, cells))
