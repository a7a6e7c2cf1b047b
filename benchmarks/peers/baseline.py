"""funcnn's own steps: the baseline every peer is measured against, and funcnn's model in a
plain jitted step.

* ``funcnn``: ``funcnn.train.make_train_step(grad_norm=False)`` (funcnn.mlp,
  "softmax_cross_entropy", ``optax.adam``), the state donated: the baseline.
* ``funcnn_jit``: the same model, loss and optimizer in a hand-written ``jax.jit`` step
  outside the engine: the cost of ``make_train_step``'s state handling (step counter, key) is
  the difference to "funcnn".

The GRU step of :mod:`benchmarks.bench_gru_peers` (``GRU_CONTENDERS``):

* ``funcnn``: the engine's step on the bidirectional GRU with ``grad="autodiff"`` (the
  baseline: autodiff through the scan, as the peers do);
* ``funcnn_manual``: the same step with ``grad="manual"``, the hand-written BPTT.

The CNN step of :mod:`benchmarks.bench_cnn_peers` (``CNN_CONTENDERS``), with the engine's
AdamW (``funcnn.train.make_optimizer("adamw", lr, weight_decay=...)``):

* ``funcnn``: ``grad="autodiff"`` (the baseline: ``jax.value_and_grad``, as the JAX peers);
* ``funcnn_manual``: ``grad="manual"``, the hand-written convolution backward (the CNN
  recipe's).
"""

from __future__ import annotations

from benchmarks.peers.contender import Contender, copy_init, copy_tree, pure_contender
from benchmarks.workloads import ADAM_EPS, FuncnnStep, funcnn_step, jnp_dtype

PACKAGES: tuple[str, ...] = ()  # funcnn's own versions are in every record


def build_funcnn(sizes, init, x, y, dtype, lr, *, fresh: bool = True) -> Contender:
    """funcnn's engine step from ``init``; ``fresh=False`` reuses a compiled step (the
    reference trace), whose compile time is then not measured."""
    fs = funcnn_step(sizes, dtype=dtype, lr=lr, fresh=fresh)
    return engine_contender("funcnn", fs, copy_init(init, jnp_dtype(dtype)), x, y, fresh)


def engine_contender(name: str, fs: FuncnnStep, params, x, y, fresh: bool = True) -> Contender:
    """The contender of funcnn's engine step ``fs`` from ``params``, its compile time
    measured unless ``fresh`` is False (a reused, already compiled step)."""
    state = fs.state_from(params)
    compile_s = fs.compile(x, y, state)[1] if fresh else None
    chain = fs.chain(x, y, state)
    return Contender(
        name,
        chain,
        lambda: fs.loss(chain.last),
        lambda: fs.params(chain.state[0]),
        compile_s,
        "lower().compile()",
        fs.impl,
        runtime="funcnn",
    )


def build_funcnn_jit(sizes, init, x, y, dtype, lr) -> Contender:
    """funcnn's model and loss in a hand-jitted optax step outside the engine."""
    import funcnn

    model = funcnn.mlp(tuple(sizes), "relu")
    how = (
        "jax.jit(funcnn.mlp.apply + funcnn.softmax_cross_entropy + optax.adam), donated; "
        "no grad_norm metric"
    )
    params = copy_init(init, jnp_dtype(dtype))
    return pure_contender(
        "funcnn_jit",
        how,
        model.apply,
        params,
        lambda p: p,
        x,
        y,
        lr,
        loss=funcnn.softmax_cross_entropy,
        runtime="funcnn",
    )


CONTENDERS = {"funcnn": build_funcnn, "funcnn_jit": build_funcnn_jit}


def build_funcnn_net(spec, init, x, y, dtype, *, grad: str, optimizer, how: str) -> Contender:
    """The engine's step (``make_train_step(grad=grad, grad_norm=False)``, the state donated)
    on ``spec.model()`` with ``optimizer`` from ``init``; named "funcnn" for autodiff, else
    "funcnn_<grad>"."""
    from funcnn.train import make_train_step

    model = spec.model()
    step = make_train_step(model, "softmax_cross_entropy", optimizer, grad=grad, grad_norm=False)
    name = "funcnn" if grad == "autodiff" else f"funcnn_{grad}"
    fs = FuncnnStep(model, step, optimizer, None, f"make_train_step(grad={grad!r}): {how}")
    return engine_contender(name, fs, copy_tree(init, jnp_dtype(dtype)), x, y)


def build_funcnn_gru(spec, init, x, y, dtype, lr, *, grad: str = "autodiff") -> Contender:
    """The engine's step on the bidirectional GRU with Adam."""
    import optax

    how = {
        "autodiff": "jax.value_and_grad through the lax.scan",
        "manual": "hand-written BPTT (reverse lax.scan)",
    }[grad]
    optimizer = optax.adam(lr, eps=ADAM_EPS)
    return build_funcnn_net(spec, init, x, y, dtype, grad=grad, optimizer=optimizer, how=how)


def build_funcnn_gru_manual(spec, init, x, y, dtype, lr) -> Contender:
    return build_funcnn_gru(spec, init, x, y, dtype, lr, grad="manual")


GRU_CONTENDERS = {"funcnn": build_funcnn_gru, "funcnn_manual": build_funcnn_gru_manual}


def build_funcnn_cnn(
    spec, init, x, y, dtype, lr, *, weight_decay: float, grad: str = "autodiff"
) -> Contender:
    """The engine's step on the CNN with the engine's AdamW."""
    from funcnn.train import make_optimizer

    how = {
        "autodiff": "jax.value_and_grad",
        "manual": "hand-written convolution backward (funcnn.backprop)",
    }[grad]
    optimizer = make_optimizer("adamw", lr, weight_decay=weight_decay)
    how += "; make_optimizer('adamw')"
    return build_funcnn_net(spec, init, x, y, dtype, grad=grad, optimizer=optimizer, how=how)


def build_funcnn_cnn_manual(spec, init, x, y, dtype, lr, *, weight_decay: float) -> Contender:
    return build_funcnn_cnn(spec, init, x, y, dtype, lr, weight_decay=weight_decay, grad="manual")


CNN_CONTENDERS = {"funcnn": build_funcnn_cnn, "funcnn_manual": build_funcnn_cnn_manual}
