"""Haiku: ``hk.nets.MLP`` under ``hk.transform``, a ``jax.jit`` optax step (donated)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from benchmarks.peers.contender import Contender, Unavailable, pure_contender, require
from benchmarks.workloads import jnp_dtype

PACKAGES = ("dm-haiku",)


def build_haiku(sizes, init, x, y, dtype, lr) -> Contender:
    hk = require("haiku", "dm-haiku")

    def forward(x):
        return hk.nets.MLP(list(sizes[1:]), activation=jax.nn.relu, name="mlp")(x)

    net = hk.without_apply_rng(hk.transform(forward))
    shapes = jax.eval_shape(net.init, jax.random.key(0), x)
    names = sorted(shapes, key=lambda k: int(k.rsplit("_", 1)[1]))
    if len(names) != len(init):
        raise Unavailable(f"haiku MLP has {len(names)} layers; expected {len(init)}")
    dt = jnp_dtype(dtype)
    params = {
        n: {"w": jnp.asarray(l["w"], dt), "b": jnp.asarray(l["b"], dt)} for n, l in zip(names, init)
    }

    def to_funcnn(p):
        return [{"w": p[n]["w"], "b": p[n]["b"]} for n in names]

    how = "hk.nets.MLP + hk.transform, jax.jit step, donated params and optimizer state"
    return pure_contender("haiku", how, net.apply, params, to_funcnn, x, y, lr)


CONTENDERS = {"haiku": build_haiku}
