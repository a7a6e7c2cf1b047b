"""Equinox: ``eqx.nn.Linear`` layers applied per example with ``jax.vmap``, an
``eqx.filter_jit(donate="all-except-first")`` optax step.

``GRU_CONTENDERS``: the bidirectional GRU step (``equinox``), its cell written from
``eqx.nn.Linear`` layers over one example's sequence with ``jax.lax.scan`` (``eqx.nn.GRUCell``
applies the reset gate after the hidden matmul, with a second bias: other values than
funcnn's GRU, :mod:`benchmarks.nets`), ``jax.vmap`` over the batch.

``CNN_CONTENDERS``: the CNN step with AdamW (``equinox``): ``eqx.nn.Conv1d(padding_mode=
"CIRCULAR")`` layers on one example ``(channels, length)``, ``jax.vmap`` over the batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks.peers.contender import Contender, adamw, require
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
    return equinox_contender(
        eqx,
        model,
        x,
        y,
        lr,
        to_funcnn=lambda m: [{"w": l.weight.T, "b": l.bias} for l in m.layers],
        how='eqx.nn.Linear layers + jax.vmap, eqx.filter_jit(donate="all-except-first") step',
    )


def equinox_contender(eqx, model, x, y, lr, *, to_funcnn, how: str, tx=None) -> Contender:
    """The ``equinox`` contender: ``model`` (one example -> logits) under ``jax.vmap``,
    softmax cross-entropy, ``tx`` (default Adam), an ``eqx.filter_jit`` step with model and
    optimizer state donated; ``to_funcnn`` gives the model's parameters in funcnn's layout."""
    optimizer = tx or optax.adam(lr, eps=ADAM_EPS)
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
        lambda: to_funcnn(chain.state[0]),
        compile_s,
        "lower().compile()",
        how,
    )


CONTENDERS = {"equinox": build_equinox}


def build_equinox_gru(spec, init, x, y, dtype, lr) -> Contender:
    eqx = require("equinox", "equinox")
    dt = jnp_dtype(dtype)
    H = spec.hidden

    class GRU(eqx.Module):
        """funcnn's GRU on one sequence: the input projection carries the one bias per
        gate; the reset gate multiplies h before the candidate's hidden matmul."""

        inp: eqx.nn.Linear  # n_in -> 3H, [z, r, hh]
        rec_zr: eqx.nn.Linear  # H -> 2H, no bias
        rec_h: eqx.nn.Linear  # H -> H, no bias

        def __init__(self, key):
            ki, kz, kh = jax.random.split(key, 3)
            self.inp = eqx.nn.Linear(spec.n_in, 3 * H, key=ki, dtype=dt)
            self.rec_zr = eqx.nn.Linear(H, 2 * H, use_bias=False, key=kz, dtype=dt)
            self.rec_h = eqx.nn.Linear(H, H, use_bias=False, key=kh, dtype=dt)

        def __call__(self, seq):  # (T, n_in) -> the last state (H,)
            xw = jax.vmap(self.inp)(seq)  # (T, 3H)

            def step(h, xw_t):
                zr = jax.nn.sigmoid(xw_t[: 2 * H] + self.rec_zr(h))
                z, r = zr[:H], zr[H:]
                hh = jnp.tanh(xw_t[2 * H :] + self.rec_h(r * h))
                return z * h + (1.0 - z) * hh, None

            h, _ = jax.lax.scan(step, jnp.zeros((H,), dt), xw)
            return h

    class Net(eqx.Module):
        fwd: GRU
        bwd: GRU
        out: eqx.nn.Linear

        def __init__(self, key):
            kf, kb, ko = jax.random.split(key, 3)
            self.fwd, self.bwd = GRU(kf), GRU(kb)
            self.out = eqx.nn.Linear(2 * H, spec.n_classes, key=ko, dtype=dt)

        def __call__(self, x):  # one example (steps * n_in,) -> (n_classes,)
            seq = x.reshape(spec.steps, spec.n_in)
            return self.out(jnp.concatenate([self.fwd(seq), self.bwd(seq[::-1])]))

    # The structure without drawing random weights, then funcnn's weights put in
    # (equinox stores weight as (n_out, n_in)).
    model = eqx.filter_eval_shape(Net, jax.random.key(0))
    rnn, dense = init

    def gru_leaves(g, p):
        w_h = p["w_h"]
        return [(g.inp.weight, p["w_x"].T), (g.inp.bias, p["b"])] + [
            (g.rec_zr.weight, w_h[:, : 2 * H].T),
            (g.rec_h.weight, w_h[:, 2 * H :].T),
        ]

    def pairs(m):
        return [
            *gru_leaves(m.fwd, rnn["fwd"]),
            *gru_leaves(m.bwd, rnn["bwd"]),
            (m.out.weight, dense["w"].T),
            (m.out.bias, dense["b"]),
        ]

    model = eqx.tree_at(
        lambda m: [leaf for leaf, _ in pairs(m)],
        model,
        [jnp.asarray(v, dt) for _, v in pairs(model)],
    )
    return equinox_contender(eqx, model, x, y, lr, to_funcnn=gru_to_funcnn, how=GRU_HOW)


GRU_HOW = (
    "GRU cell from eqx.nn.Linear layers under jax.lax.scan per example, jax.vmap over the "
    'batch, eqx.filter_jit(donate="all-except-first") step'
)


def gru_to_funcnn(model):
    def cell(g):
        w_h = jnp.concatenate([g.rec_zr.weight.T, g.rec_h.weight.T], axis=1)
        return {"w_x": g.inp.weight.T, "w_h": w_h, "b": g.inp.bias}

    out = {"w": model.out.weight.T, "b": model.out.bias}
    return [{"fwd": cell(model.fwd), "bwd": cell(model.bwd)}, out]


GRU_CONTENDERS = {"equinox": build_equinox_gru}


def build_equinox_cnn(spec, init, x, y, dtype, lr, *, weight_decay) -> Contender:
    eqx = require("equinox", "equinox")
    dt = jnp_dtype(dtype)
    k, n = spec.kernel_size, len(spec.channels)
    pad = (((k - 1) // 2, k // 2),)  # wrapped around before and after, as funcnn's

    class Net(eqx.Module):
        convs: list
        out: eqx.nn.Linear

        def __init__(self, key):
            keys = jax.random.split(key, n + 1)
            c_in = (1, *spec.channels[:-1])
            self.convs = [
                eqx.nn.Conv1d(a, b, k, s, pad, padding_mode="CIRCULAR", dtype=dt, key=kk)
                for a, b, s, kk in zip(c_in, spec.channels, spec.strides, keys)
            ]
            self.out = eqx.nn.Linear(spec.channels[-1], spec.n_classes, key=keys[-1], dtype=dt)

        def __call__(self, x):  # one example (length,) -> (n_classes,)
            h = x.reshape(1, spec.input_length)  # (channels, length)
            for conv in self.convs:
                h = jax.nn.relu(conv(h))
            return self.out(h.mean(axis=1))

    # The structure without drawing random weights, then funcnn's weights put in: equinox
    # stores a conv weight as (c_out, c_in, k), its bias as (c_out, 1), a linear weight as
    # (n_out, n_in).
    model = eqx.filter_eval_shape(Net, jax.random.key(0))
    convs, dense = init[:-1], init[-1]
    model = eqx.tree_at(
        lambda m: [l.weight for l in (*m.convs, m.out)] + [l.bias for l in (*m.convs, m.out)],
        model,
        [jnp.asarray(p["w"].transpose(2, 1, 0), dt) for p in convs]
        + [jnp.asarray(dense["w"].T, dt)]
        + [jnp.asarray(p["b"][:, None], dt) for p in convs]
        + [jnp.asarray(dense["b"], dt)],
    )

    def to_funcnn(m):
        out = [{"w": c.weight.transpose(2, 1, 0), "b": c.bias[:, 0]} for c in m.convs]
        return [*out, {"w": m.out.weight.T, "b": m.out.bias}]

    how = (
        "eqx.nn.Conv1d(padding_mode='CIRCULAR') + eqx.nn.Linear per example, jax.vmap, "
        'eqx.filter_jit(donate="all-except-first") step, optax.adamw'
    )
    tx = adamw(lr, weight_decay)
    return equinox_contender(eqx, model, x, y, lr, to_funcnn=to_funcnn, how=how, tx=tx)


CNN_CONTENDERS = {"equinox": build_equinox_cnn}
