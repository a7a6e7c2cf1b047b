"""Equinox: ``eqx.nn.Linear`` layers applied per example with ``jax.vmap``, an
``eqx.filter_jit(donate="all-except-first")`` optax step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks.peers.contender import Contender, require
from benchmarks.timing import Chain, compile_jitted
from benchmarks.workloads import ADAM_EPS, jnp_dtype

PACKAGES = ("equinox",)


def build_equinox(sizes, init, x, y, dtype, lr) -> Contender:
    eqx = require("equinox", "equinox")
    dt = jnp_dtype(dtype)

    class Net(eqx.Module):
        layers: list

        def __init__(self, sizes, key):
            keys = jax.random.split(key, len(sizes) - 1)
            self.layers = [
                eqx.nn.Linear(a, b, key=k, dtype=dt) for a, b, k in zip(sizes[:-1], sizes[1:], keys)
            ]

        def __call__(self, x):  # one example (n_0,) -> (n_L,)
            for layer in self.layers[:-1]:
                x = jax.nn.relu(layer(x))
            return self.layers[-1](x)

    # The structure without drawing random weights, then funcnn's weights put in; equinox
    # stores weight as (n_out, n_in).
    model = eqx.filter_eval_shape(Net, sizes, jax.random.key(0))
    model = eqx.tree_at(
        lambda m: [l.weight for l in m.layers] + [l.bias for l in m.layers],
        model,
        [jnp.asarray(p["w"].T, dt) for p in init] + [jnp.asarray(p["b"], dt) for p in init],
    )
    optimizer = optax.adam(lr, eps=ADAM_EPS)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))

    def loss_fn(model, x, y):
        logits = jax.vmap(model)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @eqx.filter_jit(donate="all-except-first")
    def make_step(batch, model, opt_state):
        x, y = batch
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    _, compile_s = compile_jitted(make_step, (x, y), model, opt_state)

    def step(model, opt_state, batch):
        return make_step(batch, model, opt_state)

    chain = Chain(step, (model, opt_state), ((x, y),))
    return Contender(
        "equinox",
        chain,
        lambda: chain.last[2],
        lambda: [{"w": l.weight.T, "b": l.bias} for l in chain.state[0].layers],
        compile_s,
        "lower().compile()",
        'eqx.nn.Linear layers + jax.vmap, eqx.filter_jit(donate="all-except-first") step',
    )


CONTENDERS = {"equinox": build_equinox}
