"""Flax: the linen API (``nn.Dense`` layers in a pure ``apply``, a ``jax.jit`` optax step)
and the NNX API (``nnx.Linear`` layers, ``nnx.Optimizer``, an ``nnx.jit`` step with model
and optimizer donated, as ``nnx.jit``'s documentation shows)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks.peers.contender import Contender, pure_contender, require
from benchmarks.timing import compile_jitted
from benchmarks.workloads import ADAM_EPS, jnp_dtype

PACKAGES = ("flax",)


def build_flax_linen(sizes, init, x, y, dtype, lr) -> Contender:
    require("flax", "flax")
    from flax import linen as nn

    dt = jnp_dtype(dtype)

    class Net(nn.Module):
        widths: tuple

        @nn.compact
        def __call__(self, x):
            for w in self.widths[:-1]:
                x = nn.relu(nn.Dense(w, dtype=dt, param_dtype=dt)(x))
            return nn.Dense(self.widths[-1], dtype=dt, param_dtype=dt)(x)

    net = Net(tuple(sizes[1:]))
    params = {
        "params": {
            f"Dense_{j}": {"kernel": jnp.asarray(l["w"], dt), "bias": jnp.asarray(l["b"], dt)}
            for j, l in enumerate(init)
        }
    }
    jax.eval_shape(net.apply, params, x)  # the structure must fit the module

    def to_funcnn(p):
        q = p["params"]
        return [
            {"w": q[f"Dense_{j}"]["kernel"], "b": q[f"Dense_{j}"]["bias"]} for j in range(len(q))
        ]

    how = "linen nn.Dense layers, jax.jit step, donated params and optimizer state"
    return pure_contender("flax_linen", how, net.apply, params, to_funcnn, x, y, lr)


def build_flax_nnx(sizes, init, x, y, dtype, lr) -> Contender:
    require("flax", "flax")
    from flax import nnx

    dt = jnp_dtype(dtype)

    class Net(nnx.Module):
        def __init__(self, init, rngs):
            # funcnn's initial weights enter through the layers' initializers.
            self.layers = nnx.List(
                [
                    nnx.Linear(
                        *p["w"].shape,
                        kernel_init=lambda *_, w=p["w"]: jnp.asarray(w, dt),
                        bias_init=lambda *_, b=p["b"]: jnp.asarray(b, dt),
                        dtype=dt,
                        param_dtype=dt,
                        rngs=rngs,
                    )
                    for p in init
                ]
            )

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = nnx.relu(layer(x))
            return self.layers[-1](x)

    model = Net(init, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(lr, eps=ADAM_EPS), wrt=nnx.Param)

    @nnx.jit(donate_argnames=("model", "optimizer"))
    def train_step(model, optimizer, x, y):
        def loss_fn(model):
            logits = model(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    state = {"loss": None}

    def call():
        state["loss"] = train_step(model, optimizer, x, y)
        return state["loss"]

    _, compile_s = compile_jitted(train_step, model, optimizer, x, y)
    return Contender(
        "flax_nnx",
        call,
        lambda: state["loss"],
        lambda: [{"w": l.kernel[...], "b": l.bias[...]} for l in model.layers],
        compile_s,
        "lower().compile()",
        "nnx.Linear layers, nnx.Optimizer, nnx.jit(donate_argnames=(model, optimizer))",
    )


CONTENDERS = {"flax_linen": build_flax_linen, "flax_nnx": build_flax_nnx}
