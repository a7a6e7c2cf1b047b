"""Haiku: ``hk.nets.MLP`` under ``hk.transform``, a ``jax.jit`` optax step (donated).

``CNN_CONTENDERS``: the CNN step with AdamW (``haiku``): ``hk.Conv1D(padding="VALID")`` after
``jnp.pad(mode="wrap")`` (Haiku's convolutions pad with zeros only), ``hk.Linear``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from benchmarks.peers.contender import Contender, Unavailable, adamw, pure_contender, require
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


def build_haiku_cnn(spec, init, x, y, dtype, lr, *, weight_decay) -> Contender:
    hk = require("haiku", "dm-haiku")
    k = spec.kernel_size
    names = [f"conv{j}" for j in range(len(spec.channels))] + ["out"]

    def forward(x):
        h = x.reshape(x.shape[0], spec.input_length, 1)  # (B, L, C): Haiku's NWC
        for name, c, s in zip(names, spec.channels, spec.strides):
            h = jnp.pad(h, ((0, 0), ((k - 1) // 2, k // 2), (0, 0)), mode="wrap")
            h = jax.nn.relu(hk.Conv1D(c, k, s, padding="VALID", name=name)(h))
        return hk.Linear(spec.n_classes, name="out")(h.mean(axis=1))

    net = hk.without_apply_rng(hk.transform(forward))
    dt = jnp_dtype(dtype)
    # Haiku stores a conv weight as (k, c_in, c_out) and a linear one as (n_in, n_out), as funcnn.
    params = {
        n: {"w": jnp.asarray(p["w"], dt), "b": jnp.asarray(p["b"], dt)} for n, p in zip(names, init)
    }
    shapes = jax.eval_shape(net.init, jax.random.key(0), x)
    if jax.tree.map(lambda a: a.shape, shapes) != jax.tree.map(lambda a: a.shape, params):
        raise Unavailable("haiku's CNN parameters do not have funcnn's shapes")

    def to_funcnn(p):
        return [{"w": p[n]["w"], "b": p[n]["b"]} for n in names]

    how = (
        "hk.Conv1D(padding='VALID') after jnp.pad(mode='wrap') + hk.Linear, hk.transform, "
        "jax.jit step, donated params and optimizer state, optax.adamw"
    )
    tx = adamw(lr, weight_decay)
    return pure_contender("haiku", how, net.apply, params, to_funcnn, x, y, lr, optimizer=tx)


CNN_CONTENDERS = {"haiku": build_haiku_cnn}
