"""Flax: the linen API (``nn.Dense`` layers in a pure ``apply``, a ``jax.jit`` optax step)
and the NNX API (``nnx.Linear`` layers, ``nnx.Optimizer``, an ``nnx.jit`` step with model
and optimizer donated, as ``nnx.jit``'s documentation shows).

``GRU_CONTENDERS``: the bidirectional GRU step in NNX (``flax_nnx``), its cell written from
``nnx.Linear`` layers because ``nnx.GRUCell`` applies the reset gate after the hidden matmul
and has a second bias: other values than funcnn's GRU (:mod:`benchmarks.nets`).

``CNN_CONTENDERS``: the CNN step with AdamW in linen (``flax_linen``: ``nn.Conv`` with
``padding="CIRCULAR"`` in a pure ``apply``) and NNX (``flax_nnx``: ``nnx.Conv`` likewise).
Flax's circular padding wraps ``((k - 1) // 2, k // 2)`` samples around, as funcnn's does."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks.peers.contender import Contender, adamw, pure_contender, require
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
    return nnx_contender(
        nnx,
        model,
        x,
        y,
        lr,
        lambda: [{"w": l.kernel[...], "b": l.bias[...]} for l in model.layers],
        "nnx.Linear layers, nnx.Optimizer, nnx.jit(donate_argnames=(model, optimizer))",
    )


def nnx_contender(nnx, model, x, y, lr, params, how: str, tx=None) -> Contender:
    """The ``flax_nnx`` contender: ``model(x) -> logits``, softmax cross-entropy, an
    ``nnx.Optimizer`` with ``tx`` (default Adam) and an ``nnx.jit`` step with model and
    optimizer donated, as ``nnx.jit``'s documentation shows; ``params()`` gives funcnn's
    layout."""
    tx = tx or optax.adam(lr, eps=ADAM_EPS)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

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
        "flax_nnx", call, lambda: state["loss"], params, compile_s, "lower().compile()", how
    )


CONTENDERS = {"flax_linen": build_flax_linen, "flax_nnx": build_flax_nnx}


def build_flax_nnx_gru(spec, init, x, y, dtype, lr) -> Contender:
    require("flax", "flax")
    from flax import nnx

    dt = jnp_dtype(dtype)
    H = spec.hidden

    def given(a):  # funcnn's initial weights enter through the layers' initializers
        return lambda *_: jnp.asarray(a, dt)

    def linear(w, b=None, *, rngs):
        return nnx.Linear(
            *w.shape,
            use_bias=b is not None,
            kernel_init=given(w),
            bias_init=given(b) if b is not None else nnx.initializers.zeros_init(),
            dtype=dt,
            param_dtype=dt,
            rngs=rngs,
        )

    class GRU(nnx.Module):
        """funcnn's GRU: the input projection carries the one bias per gate; the reset
        gate multiplies h before the candidate's hidden matmul."""

        def __init__(self, p, rngs):
            self.inp = linear(p["w_x"], p["b"], rngs=rngs)  # (n_in, 3H), [z, r, hh]
            self.rec_zr = linear(p["w_h"][:, : 2 * H], rngs=rngs)  # (H, 2H)
            self.rec_h = linear(p["w_h"][:, 2 * H :], rngs=rngs)  # (H, H)

        def __call__(self, seq):  # (B, T, n_in) -> the last state (B, H)
            xw = jnp.swapaxes(self.inp(seq), 0, 1)  # (T, B, 3H)

            def step(h, xw_t):
                zr = nnx.sigmoid(xw_t[:, : 2 * H] + self.rec_zr(h))
                z, r = zr[:, :H], zr[:, H:]
                hh = nnx.tanh(xw_t[:, 2 * H :] + self.rec_h(r * h))
                return z * h + (1.0 - z) * hh, None

            h, _ = jax.lax.scan(step, jnp.zeros((seq.shape[0], H), dt), xw)
            return h

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.fwd = GRU(init[0]["fwd"], rngs)
            self.bwd = GRU(init[0]["bwd"], rngs)
            self.out = linear(init[1]["w"], init[1]["b"], rngs=rngs)

        def __call__(self, x):
            seq = x.reshape(x.shape[0], spec.steps, spec.n_in)
            h = jnp.concatenate([self.fwd(seq), self.bwd(seq[:, ::-1])], axis=1)
            return self.out(h)

    model = Net(nnx.Rngs(0))

    def gru_params(g):
        w_h = jnp.concatenate([g.rec_zr.kernel[...], g.rec_h.kernel[...]], axis=1)
        return {"w_x": g.inp.kernel[...], "w_h": w_h, "b": g.inp.bias[...]}

    def params():
        out = {"w": model.out.kernel[...], "b": model.out.bias[...]}
        return [{"fwd": gru_params(model.fwd), "bwd": gru_params(model.bwd)}, out]

    how = (
        "GRU cell from nnx.Linear layers under jax.lax.scan, nnx.Optimizer, "
        "nnx.jit(donate_argnames=(model, optimizer))"
    )
    return nnx_contender(nnx, model, x, y, lr, params, how)


GRU_CONTENDERS = {"flax_nnx": build_flax_nnx_gru}


def build_flax_linen_cnn(spec, init, x, y, dtype, lr, *, weight_decay) -> Contender:
    require("flax", "flax")
    from flax import linen as nn

    dt, k = jnp_dtype(dtype), spec.kernel_size

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = x.reshape(x.shape[0], spec.input_length, 1)  # (B, L, C): channels last
            for c, s in zip(spec.channels, spec.strides):
                conv = nn.Conv(c, (k,), (s,), padding="CIRCULAR", dtype=dt, param_dtype=dt)
                h = nn.relu(conv(h))
            return nn.Dense(spec.n_classes, dtype=dt, param_dtype=dt)(h.mean(axis=1))

    net = Net()
    names = [f"Conv_{j}" for j in range(len(spec.channels))] + ["Dense_0"]
    params = {
        "params": {
            n: {"kernel": jnp.asarray(p["w"], dt), "bias": jnp.asarray(p["b"], dt)}
            for n, p in zip(names, init)
        }
    }
    jax.eval_shape(net.apply, params, x)  # the structure must fit the module

    def to_funcnn(p):
        return [{"w": p["params"][n]["kernel"], "b": p["params"][n]["bias"]} for n in names]

    how = (
        "linen nn.Conv(padding='CIRCULAR') + nn.Dense, jax.jit step, donated params and "
        "optimizer state, optax.adamw"
    )
    tx = adamw(lr, weight_decay)
    return pure_contender("flax_linen", how, net.apply, params, to_funcnn, x, y, lr, optimizer=tx)


def build_flax_nnx_cnn(spec, init, x, y, dtype, lr, *, weight_decay) -> Contender:
    require("flax", "flax")
    from flax import nnx

    dt, k = jnp_dtype(dtype), spec.kernel_size

    def given(a):  # funcnn's initial weights enter through the layers' initializers
        return lambda *_: jnp.asarray(a, dt)

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.convs = nnx.List(
                [
                    nnx.Conv(
                        *p["w"].shape[1:],
                        kernel_size=(k,),
                        strides=(s,),
                        padding="CIRCULAR",
                        kernel_init=given(p["w"]),
                        bias_init=given(p["b"]),
                        dtype=dt,
                        param_dtype=dt,
                        rngs=rngs,
                    )
                    for p, s in zip(init[:-1], spec.strides)
                ]
            )
            w, b = init[-1]["w"], init[-1]["b"]
            self.out = nnx.Linear(
                *w.shape,
                kernel_init=given(w),
                bias_init=given(b),
                dtype=dt,
                param_dtype=dt,
                rngs=rngs,
            )

        def __call__(self, x):
            h = x.reshape(x.shape[0], spec.input_length, 1)
            for conv in self.convs:
                h = nnx.relu(conv(h))
            return self.out(h.mean(axis=1))

    model = Net(nnx.Rngs(0))

    def params():
        layers = [*model.convs, model.out]
        return [{"w": l.kernel[...], "b": l.bias[...]} for l in layers]

    how = (
        "nnx.Conv(padding='CIRCULAR') + nnx.Linear, nnx.Optimizer(optax.adamw), "
        "nnx.jit(donate_argnames=(model, optimizer))"
    )
    return nnx_contender(nnx, model, x, y, lr, params, how, tx=adamw(lr, weight_decay))


CNN_CONTENDERS = {"flax_linen": build_flax_linen_cnn, "flax_nnx": build_flax_nnx_cnn}
