"""PyTorch: ``nn.Sequential(Linear, ReLU, ...)``, ``F.cross_entropy``, ``optim.Adam``, run
eagerly (``torch_eager``) and under ``torch.compile`` (``torch_compile``: the full suite only,
inductor's compile takes minutes on a small CPU).

Each timed call is one step on the batch, converted once to a tensor on the device the JAX
arrays live on (a CUDA GPU when JAX runs on one), blocked on with a CUDA synchronize there.

``GRU_CONTENDERS``: the bidirectional GRU step eagerly (``torch_eager``), its cell written
from ``nn.Linear`` layers and a Python loop over the steps: ``nn.GRU`` applies the reset gate
after the hidden matmul and has a second bias (``r o (h W_hn^T + b_hn)``), other values than
funcnn's GRU (:mod:`benchmarks.nets`).

``CNN_CONTENDERS``: the CNN step eagerly (``torch_eager``): ``nn.Conv1d(padding_mode=
"circular")`` layers on ``(batch, channels, length)``, ``optim.AdamW`` decaying the weights
only (funcnn's AdamW: a parameter group without decay for the biases).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.peers.contender import Contender, Unavailable, require
from benchmarks.timing import time_first_call
from benchmarks.workloads import ADAM_EPS

PACKAGES = ("torch",)


def torch_device():
    """CUDA where JAX computes on a GPU and PyTorch sees one, else the CPU."""
    import torch

    if jax.devices()[0].platform == "gpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def torch_parts(sizes, init, x, y, dtype, lr):
    """``(torch, net, opt, tx, ty, params, blocker)``: the network from ``init``, Adam, the
    batch as tensors, funcnn-layout params, and a blocker for the device."""
    torch, tdtype, device = torch_setup(dtype)
    layers: list = []
    for j, p in enumerate(init):
        lin = torch.nn.Linear(p["w"].shape[0], p["w"].shape[1])
        with torch.no_grad():  # torch stores weight as (n_out, n_in)
            lin.weight.copy_(torch.from_numpy(np.array(p["w"].T, np.float32)))
            lin.bias.copy_(torch.from_numpy(np.array(p["b"], np.float32)))
        layers.append(lin)
        if j < len(init) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(device=device, dtype=tdtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=ADAM_EPS)
    tx, ty = torch_batch(torch, x, y, device, tdtype)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]

    def params():
        return [{"w": m.weight.detach().T, "b": m.bias.detach()} for m in linears]

    return torch, net, opt, tx, ty, params, device_blocker(torch, device)


def torch_setup(dtype: str):
    """``(torch, its dtype for dtype, the device)``, or :class:`Unavailable`."""
    torch = require("torch", "torch")
    if dtype not in ("float32", "bfloat16"):
        raise Unavailable(f"dtype {dtype}")
    return torch, {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype], torch_device()


def torch_batch(torch, x, y, device, tdtype):
    """The batch as tensors on ``device``: inputs in ``tdtype``, labels int64."""
    tx = torch.from_numpy(np.array(x.astype(jnp.float32))).to(device=device, dtype=tdtype)
    return tx, torch.from_numpy(np.asarray(y).astype(np.int64)).to(device)


def device_blocker(torch, device):
    """Waits for the device's queued work (a CUDA synchronize; nothing on the CPU)."""

    def blocker(out):
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    return blocker


def torch_step(torch, net, opt, tx, ty, opt_step=None):
    """``(call, state)``: one training step per ``call()``, its loss kept in
    ``state["loss"]``; ``net`` and ``opt_step`` (default ``opt.step``) may be
    ``torch.compile``-d."""
    F = torch.nn.functional
    opt_step = opt_step or opt.step
    state = {"loss": None}

    def call():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(tx), ty)
        loss.backward()
        opt_step()
        state["loss"] = loss.detach()
        return state["loss"]

    return call, state


def build_torch_eager(sizes, init, x, y, dtype, lr) -> Contender:
    torch, net, opt, tx, ty, params, blocker = torch_parts(sizes, init, x, y, dtype, lr)
    how = "nn.Sequential(Linear, ReLU, ...), F.cross_entropy, optim.Adam"
    return eager_contender(torch, torch_step(torch, net, opt, tx, ty), params, how, blocker)


def eager_contender(torch, step, params, how: str, blocker) -> Contender:
    """The ``torch_eager`` contender of ``step = (call, state)`` (:func:`torch_step`)."""
    call, state = step
    how = f"{how}; {torch.get_num_threads()} threads"
    return Contender(
        "torch_eager",
        call,
        lambda: state["loss"],
        params,
        None,
        "none (eager)",
        how,
        blocker,
        runtime="torch",
    )


def build_torch_compile(sizes, init, x, y, dtype, lr) -> Contender:
    def make():
        torch, net, opt, tx, ty, params, blocker = torch_parts(sizes, init, x, y, dtype, lr)

        @torch.compile
        def opt_step():
            opt.step()

        call, state = torch_step(torch, torch.compile(net), opt, tx, ty, opt_step)
        return call, state, params, blocker

    # torch.compile compiles during a first call, which also takes a step: time it on a
    # throwaway copy, so the measured instance starts from the shared initial weights.
    warm_call, _, _, warm_block = make()
    try:
        compile_s = time_first_call(warm_call, warm_block)
    except Exception as e:  # inductor needs a working C++ toolchain; say why it did not run
        raise Unavailable(f"torch.compile failed here: {type(e).__name__}: {e}"[:300]) from None
    call, state, params, blocker = make()
    return Contender(
        "torch_compile",
        call,
        lambda: state["loss"],
        params,
        compile_s,
        "first call of a separate instance (dynamo + inductor compile + one step)",
        "torch.compile(model) and torch.compile(optimizer.step), inductor backend",
        blocker,
        runtime="torch",
    )


CONTENDERS = {"torch_eager": build_torch_eager, "torch_compile": build_torch_compile}


def build_torch_gru(spec, init, x, y, dtype, lr) -> Contender:
    torch, tdtype, device = torch_setup(dtype)
    H = spec.hidden

    def tensor(a):
        return torch.from_numpy(np.array(a, np.float32))

    def linear(w, b=None):  # funcnn's (n_in, n_out) weight; torch stores (n_out, n_in)
        lin = torch.nn.Linear(*w.shape, bias=b is not None)
        with torch.no_grad():
            lin.weight.copy_(tensor(w.T))
            if b is not None:
                lin.bias.copy_(tensor(b))
        return lin

    class GRU(torch.nn.Module):
        """funcnn's GRU: the input projection carries the one bias per gate; the reset
        gate multiplies h before the candidate's hidden matmul."""

        def __init__(self, p):
            super().__init__()
            self.inp = linear(p["w_x"], p["b"])  # [z, r, hh]
            self.rec_zr = linear(p["w_h"][:, : 2 * H])
            self.rec_h = linear(p["w_h"][:, 2 * H :])

        def forward(self, seq):  # (B, T, n_in) -> the last state (B, H)
            xw = self.inp(seq)  # (B, T, 3H)
            h = seq.new_zeros(seq.shape[0], H)
            for t in range(seq.shape[1]):
                zr = torch.sigmoid(xw[:, t, : 2 * H] + self.rec_zr(h))
                z, r = zr[:, :H], zr[:, H:]
                hh = torch.tanh(xw[:, t, 2 * H :] + self.rec_h(r * h))
                h = z * h + (1.0 - z) * hh
            return h

        def funcnn_params(self):
            w_h = torch.cat([self.rec_zr.weight.detach().T, self.rec_h.weight.detach().T], 1)
            return {"w_x": self.inp.weight.detach().T, "w_h": w_h, "b": self.inp.bias.detach()}

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fwd, self.bwd = GRU(init[0]["fwd"]), GRU(init[0]["bwd"])
            self.out = linear(init[1]["w"], init[1]["b"])

        def forward(self, x):
            seq = x.reshape(x.shape[0], spec.steps, spec.n_in)
            return self.out(torch.cat([self.fwd(seq), self.bwd(seq.flip(1))], dim=1))

    net = Net().to(device=device, dtype=tdtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=ADAM_EPS)
    step = torch_step(torch, net, opt, *torch_batch(torch, x, y, device, tdtype))

    def params():
        out = {"w": net.out.weight.detach().T, "b": net.out.bias.detach()}
        return [{"fwd": net.fwd.funcnn_params(), "bwd": net.bwd.funcnn_params()}, out]

    how = (
        "GRU cell from nn.Linear layers, a Python loop over the steps, F.cross_entropy, optim.Adam"
    )
    return eager_contender(torch, step, params, how, device_blocker(torch, device))


GRU_CONTENDERS = {"torch_eager": build_torch_gru}


def build_torch_cnn(spec, init, x, y, dtype, lr, *, weight_decay) -> Contender:
    torch, tdtype, device = torch_setup(dtype)
    k = spec.kernel_size
    if k % 2 == 0:  # funcnn wraps (k - 1) // 2 samples before and k // 2 after
        raise Unavailable(f"nn.Conv1d pads symmetrically; kernel {k} needs uneven padding")

    def tensor(a):
        return torch.from_numpy(np.array(a, np.float32))

    layers: list = [torch.nn.Unflatten(1, (1, spec.input_length))]  # (B, C=1, L)
    for p, s in zip(init[:-1], spec.strides):
        _, c_in, c_out = p["w"].shape
        conv = torch.nn.Conv1d(c_in, c_out, k, s, k // 2, padding_mode="circular")
        with torch.no_grad():  # torch stores a conv weight as (c_out, c_in, k)
            conv.weight.copy_(tensor(p["w"].transpose(2, 1, 0)))
            conv.bias.copy_(tensor(p["b"]))
        layers += [conv, torch.nn.ReLU()]
    out = torch.nn.Linear(*init[-1]["w"].shape)
    with torch.no_grad():
        out.weight.copy_(tensor(init[-1]["w"].T))
        out.bias.copy_(tensor(init[-1]["b"]))
    layers += [torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(), out]
    net = torch.nn.Sequential(*layers).to(device=device, dtype=tdtype)
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if not n.endswith("weight")]
    groups = [{"params": weights}, {"params": biases, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(
        groups, lr=lr, betas=(0.9, 0.999), eps=ADAM_EPS, weight_decay=weight_decay
    )
    step = torch_step(torch, net, opt, *torch_batch(torch, x, y, device, tdtype))
    params_of = [m for m in net if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear))]

    def params():
        ws = [m.weight.detach() for m in params_of]
        ws = [w.permute(2, 1, 0) if w.dim() == 3 else w.T for w in ws]
        return [{"w": w, "b": m.bias.detach()} for w, m in zip(ws, params_of)]

    how = (
        "nn.Conv1d(padding_mode='circular'), ReLU, AdaptiveAvgPool1d, Linear; F.cross_entropy, "
        "optim.AdamW (biases undecayed)"
    )
    return eager_contender(torch, step, params, how, device_blocker(torch, device))


CNN_CONTENDERS = {"torch_eager": build_torch_cnn}
