"""funcnn's own steps: the baseline every peer is measured against, and funcnn's model in a
plain jitted step.

* ``funcnn``: ``funcnn.train.make_train_step(grad_norm=False)`` (funcnn.mlp,
  "softmax_cross_entropy", ``optax.adam``), the state donated: the baseline.
* ``funcnn_jit``: the same model, loss and optimizer in a hand-written ``jax.jit`` step
  outside the engine: the cost of ``make_train_step``'s state handling (step counter, key) is
  the difference to "funcnn".
"""

from __future__ import annotations

from benchmarks.peers.contender import Contender, copy_init, pure_contender
from benchmarks.workloads import funcnn_step, jnp_dtype

PACKAGES: tuple[str, ...] = ()  # funcnn's own versions are in every record


def build_funcnn(sizes, init, x, y, dtype, lr, *, fresh: bool = True) -> Contender:
    """funcnn's engine step from ``init``; ``fresh=False`` reuses a compiled step (the
    reference trace), whose compile time is then not measured."""
    fs = funcnn_step(sizes, dtype=dtype, lr=lr, fresh=fresh)
    state = fs.state_from(copy_init(init, jnp_dtype(dtype)))
    compile_s = fs.compile(x, y, state)[1] if fresh else None
    chain = fs.chain(x, y, state)
    return Contender(
        "funcnn",
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
