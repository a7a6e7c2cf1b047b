"""What a contender of the peers benchmark is, and the parts several libraries share.

A contender module of :mod:`benchmarks.peers` has ``CONTENDERS``, name -> a builder
``build(sizes, init, x, y, dtype, lr) -> Contender``, and ``PACKAGES``, the distributions
whose versions its records carry. A builder makes the library's training step for
``mlp(sizes)`` + softmax cross-entropy + Adam(lr, eps=1e-8), starting from funcnn's initial
parameters ``init`` (``[{"w": (n_in, n_out), "b": (n_out,)}]`` NumPy arrays), on the batch
``(x, y)``; it imports its library inside (through :func:`require`), so a missing library
raises :class:`Unavailable` with the reason and the suite goes on without it.

A module may also have ``GRU_CONTENDERS``, builders ``build(spec, init, x, y, dtype, lr)`` of
the step of :class:`benchmarks.nets.GRUSpec`'s bidirectional GRU (funcnn's GRU equations, see
:mod:`benchmarks.nets`) from funcnn's initial parameters ``init``, the model's params
``[{"fwd": {"w_x", "w_h", "b"}, "bwd": {...}}, {"w", "b"}]`` as NumPy arrays
(:mod:`benchmarks.bench_gru_peers` times them).

And ``CNN_CONTENDERS``, builders ``build(spec, init, x, y, dtype, lr, *, weight_decay)`` of the
step of :class:`benchmarks.nets.CNNSpec`'s network (circular 1-D convolutions, ReLU, global
average pooling, dense; no dropout) trained with AdamW (:func:`adamw`), from funcnn's initial
parameters ``[{"w": (k, c_in, c_out), "b": (c_out,)}, ..., {"w": (c, n_classes), "b"}]``
(:mod:`benchmarks.bench_cnn_peers` times them).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.timing import Chain, block, compile_jitted
from benchmarks.workloads import ADAM_EPS


class Unavailable(Exception):
    """A contender cannot run here (package missing or unsupported); the message says why."""


@dataclasses.dataclass
class Contender:
    """One library's training step on the shared workload.

    ``call()`` runs one step (consuming and replacing its own state) and returns what to
    block on; ``loss()`` is the loss of the most recent step; ``params()`` the current
    parameters in funcnn's layout (``[{"w": (n_in, n_out), "b": (n_out,)}]`` for the MLP).

    Attributes:
        compile_s: compile time measured apart (None: nothing is compiled).
        compile_method: how ``compile_s`` was measured.
        how: what the step is made of, in the library's words (shown in the report).
        block: waits for ``call()``'s result.
        runtime: "funcnn" for funcnn's own steps, else what the library computes with
            ("jax", "torch"); the report compares funcnn with the fastest "jax" peer.
    """

    name: str
    call: Callable[[], Any]
    loss: Callable[[], Any]
    params: Callable[[], list]
    compile_s: float | None
    compile_method: str
    how: str
    block: Callable[[Any], Any] = block
    runtime: str = "jax"


def require(module: str, pip_name: str):
    """Import ``module``, or raise :class:`Unavailable` saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise Unavailable(f"{pip_name} is not installed ({e}); pip install {pip_name}") from None


def copy_init(init: list[dict[str, np.ndarray]], dtype) -> list[dict[str, jax.Array]]:
    """Fresh device buffers of funcnn's initial params (each contender owns its copy)."""
    return [{k: jnp.asarray(v, dtype) for k, v in layer.items()} for layer in init]


def copy_tree(init, dtype):
    """Fresh device buffers of any pytree of funcnn's initial params."""
    return jax.tree.map(lambda v: jnp.asarray(v, dtype), init)


WEIGHT_NAMES = ("w", "kernel", "weight")
"""What the libraries call a layer's weight (funcnn and Haiku, Flax, Equinox and PyTorch)."""


def weights_only(params):
    """Pytree of bools: True on the leaves under a key named as in :data:`WEIGHT_NAMES`, False
    on biases: the leaves funcnn's AdamW decays (:func:`funcnn.optimizers.weight_mask`), in any
    library's tree (dicts, attributes, NNX states)."""

    def is_weight(path, _):
        return any(getattr(k, "key", getattr(k, "name", None)) in WEIGHT_NAMES for k in path)

    return jax.tree_util.tree_map_with_path(is_weight, params)


def adamw(lr: float, weight_decay: float) -> optax.GradientTransformation:
    """``optax.adamw`` as funcnn's engine builds AdamW (``funcnn.train.make_optimizer(
    "adamw", lr, weight_decay=...)``): eps 1e-8, the decay scaled by the learning rate and on
    the weights only."""
    return optax.adamw(lr, eps=ADAM_EPS, weight_decay=weight_decay, mask=weights_only)


def optax_step(apply: Callable, lr: float, loss: Callable | None = None, optimizer=None):
    """``(optimizer, step)``: a jitted plain-JAX step ``(params, opt_state, x, y) ->
    (params, opt_state, loss)`` with params and optimizer state donated, for the libraries
    whose model is a pure ``apply(params, x)`` (Haiku, Flax linen).

    ``loss(logits, y)`` defaults to optax's softmax cross-entropy with integer labels,
    averaged over the batch; ``optimizer`` to ``optax.adam(lr, eps=1e-8)``.
    """
    optimizer = optimizer or optax.adam(lr, eps=ADAM_EPS)

    def loss_fn(params, x, y):
        if loss is not None:
            return loss(apply(params, x), y)
        return optax.softmax_cross_entropy_with_integer_labels(apply(params, x), y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, jax.jit(step, donate_argnums=(0, 1))


def pure_contender(
    name: str,
    how: str,
    apply: Callable,
    params,
    to_funcnn: Callable,
    x,
    y,
    lr: float,
    *,
    loss: Callable | None = None,
    runtime: str = "jax",
    optimizer=None,
) -> Contender:
    """The :class:`Contender` of :func:`optax_step` on ``apply``, from ``params`` (the
    library's layout; ``to_funcnn`` converts it to funcnn's)."""
    optimizer, step = optax_step(apply, lr, loss, optimizer)
    opt_state = optimizer.init(params)
    _, compile_s = compile_jitted(step, params, opt_state, x, y)
    chain = Chain(step, (params, opt_state), (x, y))
    return Contender(
        name,
        chain,
        lambda: chain.last[2],
        lambda: to_funcnn(chain.state[0]),
        compile_s,
        "lower().compile()",
        how,
        runtime=runtime,
    )
