"""peers: the same training step in the libraries people use instead of funcnn.

Every contender trains the same network on the same batch from the same initial parameters:
an MLP with ReLU hidden layers and a linear output, softmax cross-entropy averaged over the
batch, Adam with lr 1e-3, b1 0.9, b2 0.999, eps 1e-8. funcnn's initial weights are copied
into each peer (transposed where the library stores ``(n_out, n_in)``). Before timing, every
contender runs three steps and its losses and updated parameters are asserted equal to
funcnn's (:func:`benchmarks.common.assert_same_work`); then all contenders are timed
A/B-interleaved in the same run and each gets ``ratio = its median / funcnn's median``
(> 1: funcnn is faster).

Contenders (each skipped with a printed reason when its package is missing):

* ``funcnn``: ``funcnn.train.make_train_step`` (funcnn.mlp, "softmax_cross_entropy",
  ``optax.adam``), the state donated; its metrics include the gradient's global norm.
* ``funcnn_jit``: the same model, loss and optimizer in a hand-written ``jax.jit`` step
  without metrics, so the engine's own cost shows.
* ``haiku``: ``hk.nets.MLP`` under ``hk.transform``, ``jax.jit`` step (donated).
* ``flax_linen``: ``nn.Dense`` layers, ``jax.jit`` step (donated).
* ``flax_nnx``: ``nnx.Linear`` layers, ``nnx.Optimizer``, ``nnx.jit`` step with the model and
  optimizer donated, as ``nnx.jit``'s documentation shows.
* ``equinox``: ``eqx.nn.Linear`` layers applied per example with ``jax.vmap``,
  ``eqx.filter_jit(donate="all-except-first")`` step.
* ``torch_eager``: ``torch.nn.Linear``/``ReLU``, ``F.cross_entropy``, ``torch.optim.Adam``.
* ``torch_compile``: the same model and optimizer step under ``torch.compile`` (full suite only:
  inductor's compile takes minutes on a small CPU).

And scikit-learn's ``MLPClassifier`` (solver "adam", alpha 0, batch 128) as the non-JAX CPU
baseline: its epoch time on MNIST-1D against one funcnn epoch (a jitted ``lax.scan`` over the
shuffled batches), with both models' test accuracy after the same number of epochs from the
same initial weights.

    python -m benchmarks --only peers
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import common

NAME = "peers"
BASELINE = "funcnn"

MNIST1D = (40, 256, 256, 10)
LARGE = (784, 1024, 1024, 10)

CONFIGS = {
    ("quick", "cpu"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512)],
        "budget_s": 4.0,
        "torch_compile": False,
        "sklearn_epochs": 20,
    },
    ("full", "cpu"): {
        "workloads": [(MNIST1D, 128), ((784, 512, 512, 10), 256), (LARGE, 512)],
        "budget_s": 20.0,
        "torch_compile": True,
        "sklearn_epochs": 40,
    },
    ("quick", "accel"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512), ((784, 4096, 4096, 10), 8192)],
        "budget_s": 5.0,
        "torch_compile": False,
        "sklearn_epochs": 20,
    },
    ("full", "accel"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512), ((784, 4096, 4096, 10), 8192)],
        "budget_s": 15.0,
        "torch_compile": True,
        "sklearn_epochs": 20,
    },
}
SMOKE = {
    "workloads": [((8, 16, 16, 4), 8)],
    "budget_s": 0.1,
    "torch_compile": False,
    "sklearn_epochs": 20,
    "dataset": "synthetic",
}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""

CHECK_STEPS = 3
COOLDOWN_S = 1e-3
"""Untimed pause after each call when PyTorch is among the contenders (see compare_workload)."""
MAX_REPEATS = 300


class Unavailable(Exception):
    """A contender cannot run here (package missing or unsupported); the message says why."""


@dataclasses.dataclass
class Contender:
    """One library's training step on the shared workload.

    ``call()`` runs one step (consuming and replacing its own state) and returns what to
    block on; ``loss()`` is the loss of the most recent step; ``params()`` the current
    parameters in funcnn's layout ``[{"w": (n_in, n_out), "b": (n_out,)}]``.
    """

    name: str
    call: Callable[[], Any]
    loss: Callable[[], Any]
    params: Callable[[], list]
    compile_s: float | None
    compile_method: str
    how: str
    block: Callable[[Any], Any] = common.block


def _require(module: str, pip_name: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise Unavailable(f"{pip_name} is not installed ({e}); pip install {pip_name}") from None


def _copy(init: list[dict[str, np.ndarray]], dtype) -> list[dict[str, jax.Array]]:
    """Fresh device buffers of funcnn's initial params (each contender owns its copy)."""
    return [{k: jnp.asarray(v, dtype) for k, v in layer.items()} for layer in init]


def _timed_first_call(call: Callable[[], Any], blocker=common.block) -> float:
    t0 = time.perf_counter()
    blocker(call())
    return time.perf_counter() - t0


# --- contenders ----------------------------------------------------------------------------


def build_funcnn(sizes, init, x, y, dtype, lr) -> Contender:
    fs = common.funcnn_step(sizes, dtype=dtype, lr=lr)
    state = fs.state_from(_copy(init, common.jnp_dtype(dtype)))
    _, compile_s = fs.compile(x, y, state)
    chain = fs.chain(x, y, state)
    return Contender(
        "funcnn",
        chain,
        lambda: fs.loss(chain.last),
        lambda: fs.params(chain.state[0]),
        compile_s,
        "lower().compile()",
        fs.impl,
    )


def build_funcnn_jit(sizes, init, x, y, dtype, lr) -> Contender:
    """funcnn's model and loss in a hand-jitted step outside the engine: the cost of
    ``make_train_step``'s state handling (step counter, key) is the difference to "funcnn"."""
    import funcnn

    model = funcnn.mlp(tuple(sizes), "relu")

    def apply(params, x):
        return model.apply(params, x)

    how = (
        "jax.jit(funcnn.mlp.apply + funcnn.softmax_cross_entropy + optax.adam), donated; "
        "no grad_norm metric"
    )
    params = _copy(init, common.jnp_dtype(dtype))
    return _pure_contender(
        "funcnn_jit", how, apply, params, lambda p: p, x, y, lr, funcnn.softmax_cross_entropy
    )


def _optax_step(apply, lr, loss=None):
    """A plain-JAX step ``(params, opt_state, x, y) -> (params, opt_state, loss)`` for the
    libraries whose model is a pure ``apply(params, x)`` (Haiku, Flax linen)."""
    optimizer = optax.adam(lr, eps=common.ADAM_EPS)

    def loss_fn(params, x, y):
        if loss is not None:
            return loss(apply(params, x), y)
        return optax.softmax_cross_entropy_with_integer_labels(apply(params, x), y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, jax.jit(step, donate_argnums=(0, 1))


def _pure_contender(name, how, apply, params, to_funcnn, x, y, lr, loss=None) -> Contender:
    optimizer, step = _optax_step(apply, lr, loss)
    opt_state = optimizer.init(params)
    _, compile_s = common.compile_jitted(step, params, opt_state, x, y)
    chain = common.Chain(step, (params, opt_state), (x, y))
    return Contender(
        name,
        chain,
        lambda: chain.last[2],
        lambda: to_funcnn(chain.state[0]),
        compile_s,
        "lower().compile()",
        how,
    )


def build_haiku(sizes, init, x, y, dtype, lr) -> Contender:
    hk = _require("haiku", "dm-haiku")

    def forward(x):
        return hk.nets.MLP(list(sizes[1:]), activation=jax.nn.relu, name="mlp")(x)

    net = hk.without_apply_rng(hk.transform(forward))
    shapes = jax.eval_shape(net.init, jax.random.key(0), x)
    names = sorted(shapes, key=lambda k: int(k.rsplit("_", 1)[1]))
    if len(names) != len(init):
        raise Unavailable(f"haiku MLP has {len(names)} layers; expected {len(init)}")
    dt = common.jnp_dtype(dtype)
    params = {
        n: {"w": jnp.asarray(l["w"], dt), "b": jnp.asarray(l["b"], dt)} for n, l in zip(names, init)
    }

    def to_funcnn(p):
        return [{"w": p[n]["w"], "b": p[n]["b"]} for n in names]

    how = "hk.nets.MLP + hk.transform, jax.jit step, donated params and optimizer state"
    return _pure_contender("haiku", how, net.apply, params, to_funcnn, x, y, lr)


def build_flax_linen(sizes, init, x, y, dtype, lr) -> Contender:
    _require("flax", "flax")
    from flax import linen as nn

    dt = common.jnp_dtype(dtype)

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
    return _pure_contender("flax_linen", how, net.apply, params, to_funcnn, x, y, lr)


def build_flax_nnx(sizes, init, x, y, dtype, lr) -> Contender:
    _require("flax", "flax")
    from flax import nnx

    dt = common.jnp_dtype(dtype)

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
    optimizer = nnx.Optimizer(model, optax.adam(lr, eps=common.ADAM_EPS), wrt=nnx.Param)

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

    t0 = time.perf_counter()
    train_step.lower(model, optimizer, x, y).compile()
    compile_s = time.perf_counter() - t0
    return Contender(
        "flax_nnx",
        call,
        lambda: state["loss"],
        lambda: [{"w": l.kernel[...], "b": l.bias[...]} for l in model.layers],
        compile_s,
        "lower().compile()",
        "nnx.Linear layers, nnx.Optimizer, nnx.jit(donate_argnames=(model, optimizer))",
    )


def build_equinox(sizes, init, x, y, dtype, lr) -> Contender:
    eqx = _require("equinox", "equinox")
    dt = common.jnp_dtype(dtype)

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
    optimizer = optax.adam(lr, eps=common.ADAM_EPS)
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

    t0 = time.perf_counter()
    make_step.lower((x, y), model, opt_state).compile()
    compile_s = time.perf_counter() - t0

    def step(model, opt_state, batch):
        return make_step(batch, model, opt_state)

    chain = common.Chain(step, (model, opt_state), ((x, y),))
    return Contender(
        "equinox",
        chain,
        lambda: chain.last[2],
        lambda: [{"w": l.weight.T, "b": l.bias} for l in chain.state[0].layers],
        compile_s,
        "lower().compile()",
        'eqx.nn.Linear layers + jax.vmap, eqx.filter_jit(donate="all-except-first") step',
    )


def _torch_device():
    import torch

    if jax.devices()[0].platform == "gpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _torch_parts(sizes, init, x, y, dtype, lr):
    torch = _require("torch", "torch")
    if dtype not in ("float32", "bfloat16"):
        raise Unavailable(f"dtype {dtype}")
    tdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    device = _torch_device()
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
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=common.ADAM_EPS)
    tx = torch.from_numpy(np.array(x.astype(jnp.float32))).to(device=device, dtype=tdtype)
    ty = torch.from_numpy(np.asarray(y).astype(np.int64)).to(device)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]

    def params():
        return [{"w": m.weight.detach().T, "b": m.bias.detach()} for m in linears]

    def blocker(out):
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    return torch, net, opt, tx, ty, params, blocker


def build_torch_eager(sizes, init, x, y, dtype, lr) -> Contender:
    torch, net, opt, tx, ty, params, blocker = _torch_parts(sizes, init, x, y, dtype, lr)
    F = torch.nn.functional
    state = {"loss": None}

    def call():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(tx), ty)
        loss.backward()
        opt.step()
        state["loss"] = loss.detach()
        return state["loss"]

    return Contender(
        "torch_eager",
        call,
        lambda: state["loss"],
        params,
        None,
        "none (eager)",
        f"nn.Sequential(Linear, ReLU, ...), F.cross_entropy, optim.Adam; {torch.get_num_threads()} threads",
        blocker,
    )


def build_torch_compile(sizes, init, x, y, dtype, lr) -> Contender:
    def make(parts):
        torch, net, opt, tx, ty, params, blocker = parts
        F = torch.nn.functional
        cnet = torch.compile(net)

        @torch.compile
        def opt_step():
            opt.step()

        state = {"loss": None}

        def call():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(cnet(tx), ty)
            loss.backward()
            opt_step()
            state["loss"] = loss.detach()
            return state["loss"]

        return call, state, params, blocker

    # torch.compile compiles during a first call, which also takes a step: time it on a
    # throwaway copy, so the measured instance starts from the shared initial weights.
    warm_call, _, _, warm_block = make(_torch_parts(sizes, init, x, y, dtype, lr))
    try:
        compile_s = _timed_first_call(warm_call, warm_block)
    except Exception as e:  # inductor needs a working C++ toolchain; say why it did not run
        raise Unavailable(f"torch.compile failed here: {type(e).__name__}: {e}"[:300]) from None
    call, state, params, blocker = make(_torch_parts(sizes, init, x, y, dtype, lr))
    return Contender(
        "torch_compile",
        call,
        lambda: state["loss"],
        params,
        compile_s,
        "first call of a separate instance (dynamo + inductor compile + one step)",
        "torch.compile(model) and torch.compile(optimizer.step), inductor backend",
        blocker,
    )


CONTENDERS: dict[str, Callable[..., Contender]] = {
    "funcnn": build_funcnn,
    "funcnn_jit": build_funcnn_jit,
    "haiku": build_haiku,
    "flax_linen": build_flax_linen,
    "flax_nnx": build_flax_nnx,
    "equinox": build_equinox,
    "torch_eager": build_torch_eager,
    "torch_compile": build_torch_compile,
}
"""name -> builder ``(sizes, init, x, y, dtype, lr) -> Contender``."""

# --- the same-work check -------------------------------------------------------------------


def work_trace(contender: Contender, n_steps: int = CHECK_STEPS) -> dict[str, Any]:
    """Run ``n_steps`` steps from the contender's current state: each step's loss, and the
    parameters after the first step.

    The losses of later steps depend on every earlier update, so they check model, loss,
    data, optimizer and learning rate together; the parameters are compared after one update,
    before the chaotic early phase of training (Adam's first steps move every weight by about
    lr at once) has amplified rounding differences between implementations.
    """
    losses, params, seconds = [], None, []
    for i in range(n_steps):
        t0 = time.perf_counter()
        contender.block(contender.call())
        seconds.append(time.perf_counter() - t0)
        losses.append(common._to_numpy(contender.loss()))
        if i == 0:
            params = [{k: common._to_numpy(v) for k, v in l.items()} for l in contender.params()]
    return {"losses": losses, "params": params, "seconds": seconds}


def reference_trace(sizes, init, x, y, dtype, lr) -> dict[str, Any]:
    """funcnn's :func:`work_trace` from ``init`` (a reused compiled step)."""
    fs = common.funcnn_step(sizes, dtype=dtype, lr=lr, fresh=False)
    chain = fs.chain(x, y, fs.state_from(_copy(init, common.jnp_dtype(dtype))))
    ref = Contender(
        "funcnn",
        chain,
        lambda: fs.loss(chain.last),
        lambda: fs.params(chain.state[0]),
        None,
        "",
        "",
    )
    return work_trace(ref)


OUTLIER_FRACTION = 1e-3
"""Share of parameters allowed to differ by up to two learning rates after the first update
(opposite Adam steps where a gradient is at rounding level, see
:func:`benchmarks.common.assert_same_work`); the losses must match with no allowance."""


def verify_same_work(reference: dict, candidate: dict, *, dtype: str, what: str, lr: float):
    """Assert a contender's trace equals funcnn's (raises :class:`common.WorkMismatchError`).

    Returns:
        ``{"max_rel_err", "outliers", "elements"}`` of the parameter comparison.
    """
    common.assert_same_work(
        reference["losses"], candidate["losses"], dtype=dtype, what=f"{what}: losses"
    )
    same = common.assert_same_work(
        reference["params"],
        candidate["params"],
        dtype=dtype,
        what=f"{what}: parameters",
        outlier_fraction=OUTLIER_FRACTION,
        outlier_atol=2.0 * lr,
    )
    return dataclasses.asdict(same)


def compare_workload(
    sizes: Sequence[int],
    batch: int,
    *,
    dtype: str,
    budget_s: float,
    names: Sequence[str],
    lr: float = common.ADAM_LR,
    device=None,
    progress=True,
    cooldown_s: float | None = None,
) -> list[dict]:
    """Build every available contender for one workload, check it does funcnn's work, time
    them all interleaved; one record per contender that ran."""
    sizes = tuple(int(s) for s in sizes)
    x, y = common.mlp_batch(sizes, batch, dtype)
    base = common.funcnn_step(sizes, dtype=dtype, lr=lr, fresh=False)
    init = [{k: np.asarray(v) for k, v in layer.items()} for layer in base.state.params]
    contenders: dict[str, Contender] = {}
    skipped: dict[str, str] = {}
    label = f"{'-'.join(map(str, sizes))} batch {batch}"
    for name in common.progress(names, desc=f"peers {label}", enabled=progress):
        try:
            contenders[name] = CONTENDERS[name](sizes, init, x, y, dtype, lr)
        except Unavailable as e:
            skipped[name] = str(e)
            print(f"[peers] {label}: skipping {name}: {e}")
    if BASELINE not in contenders:
        raise RuntimeError(f"funcnn's step could not be built: {skipped.get(BASELINE)}")

    # Same work: every contender's steps from the same start must match funcnn's.
    # funcnn's own trace (from the shared initial weights) is the reference.
    traces = {BASELINE: work_trace(contenders[BASELINE])}
    reference = traces[BASELINE]
    checks: dict[str, dict] = {}
    per_call: dict[str, float] = {}
    for name, c in contenders.items():
        trace = traces.get(name) or work_trace(c)
        checks[name] = verify_same_work(
            reference, trace, dtype=dtype, what=f"{name} vs funcnn ({label})", lr=lr
        )
        per_call[name] = min(trace["seconds"])

    # Time everything interleaved; the per-call cost of the slowest sets the repeats. PyTorch's
    # OpenMP workers keep spinning for a while after a call and would steal the cores of the
    # call after it: with PyTorch in the group every call is followed by an untimed pause.
    if cooldown_s is None:
        cooldown_s = COOLDOWN_S if any(n.startswith("torch") for n in contenders) else 0.0
    per_round = sum(per_call.values())  # from the traced steps: no extra probing
    repeats = common.repeats_for(
        per_round + cooldown_s * len(contenders), budget_s, max_repeats=MAX_REPEATS
    )
    timings = common.time_interleaved(
        {n: c.call for n, c in contenders.items()},
        repeats=repeats,
        warmup=2,
        blockers={n: c.block for n, c in contenders.items()},
        cooldown_s=cooldown_s,
    )
    base_t = timings[BASELINE]
    records = []
    for name, c in contenders.items():
        t = timings[name]
        rec = common.make_record(
            NAME,
            name,
            common.workload("mlp", sizes, batch, dtype, optimizer="adam", lr=lr),
            t,
            compile_s=c.compile_s,
            flops=common.mlp_step_flops(sizes, batch),
            flops_formula=common.FLOPS_FORMULA,
            ratio=t.median / base_t.median,
            baseline=BASELINE,
            device=device,
            ratio_paired=common.paired_ratio(t, base_t),
            compile_method=c.compile_method,
            how=c.how,
            same_work=dict(checks[name], steps=CHECK_STEPS),
            cooldown_s=cooldown_s,
        )
        records.append(rec)
        print(
            f"[peers] {label} {dtype}: {name:14s} {t.median * 1e3:8.3f} ms  "
            f"{rec['ratio']:5.2f}x funcnn"
        )
    if skipped:
        next(r for r in records if r["name"] == BASELINE)["skipped"] = (
            skipped  # the baseline's record says who did not run, and why
        )
    return records


# --- scikit-learn on MNIST-1D ----------------------------------------------------------------


def load_classification(name: str, seed: int = 0):
    """``(x_train, y_train, x_test, y_test)`` float32 / int32, standardized with training stats.

    "mnist1d" is ``funcnn.data.load("mnist1d")`` (generated once, then cached); "synthetic" is
    a small random problem for tests.
    """
    if name == "synthetic":
        rng = np.random.default_rng(seed)
        w = rng.normal(size=(8, 4))
        x = rng.normal(size=(384, 8)).astype(np.float32)
        y = np.argmax(x @ w, axis=1).astype(np.int32)
        return x[:256], y[:256], x[256:], y[256:]
    if name != "mnist1d":
        raise ValueError(f'dataset must be "mnist1d" or "synthetic"; got {name!r}.')
    from funcnn.data import load

    ds = load("mnist1d", seed=seed)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test


def _sklearn_classifier(init, batch, lr, shuffle, seed=0):
    """An ``MLPClassifier`` with funcnn's sizes, Adam, no L2, starting from ``init``."""
    nn = _require("sklearn.neural_network", "scikit-learn")

    class FromInit(nn.MLPClassifier):
        # sklearn draws each layer's initial (coef (n_in, n_out), intercept) in _init_coef;
        # returning funcnn's instead gives both libraries the same starting point.
        def _init_coef(self, fan_in, fan_out, dtype):
            layer = init[self._layer_counter]
            self._layer_counter += 1
            if layer["w"].shape != (fan_in, fan_out):
                raise ValueError(
                    f"init layer has shape {layer['w'].shape}; sklearn wants {(fan_in, fan_out)}"
                )
            return layer["w"].astype(dtype), layer["b"].astype(dtype)

    hidden = tuple(int(l["w"].shape[1]) for l in init[:-1])
    clf = FromInit(
        hidden_layer_sizes=hidden,
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=batch,
        learning_rate_init=lr,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=common.ADAM_EPS,
        shuffle=shuffle,
        random_state=seed,
    )
    clf._layer_counter = 0
    return clf


def sklearn_comparison(
    *,
    dataset: str = "mnist1d",
    hidden=(256, 256),
    batch: int = 128,
    epochs: int = 20,
    lr: float = common.ADAM_LR,
    device=None,
) -> list[dict]:
    """scikit-learn's ``MLPClassifier`` epoch against funcnn's scanned epoch, interleaved.

    Both start from funcnn's initial weights and train ``epochs + 1`` epochs (one untimed);
    each record carries its model's test accuracy. Before timing, batches in order (sklearn
    with ``shuffle=False``) check that both do the same work: the mean loss of three steps
    and the parameters after one. sklearn's Adam adds eps to the un-corrected second-moment
    root (``lr_t m / (sqrt(v) + eps)``) where optax adds it to the corrected one, so the
    parameter check uses an absolute tolerance of lr / 4.
    """
    x_tr, y_tr, x_te, y_te = load_classification(dataset)
    n_classes = int(max(y_tr.max(), y_te.max()) + 1)
    sizes = (x_tr.shape[1], *hidden, n_classes)
    if batch > len(x_tr):
        raise ValueError(f"batch ({batch}) must be <= the training set size ({len(x_tr)}).")
    try:
        _require("sklearn.neural_network", "scikit-learn")
    except Unavailable as e:
        print(f"[peers] skipping sklearn: {e}")
        return []
    from funcnn.train import evaluate, make_epoch

    fs = common.funcnn_step(sizes, lr=lr)
    init = [{k: np.asarray(v) for k, v in layer.items()} for layer in fs.state.params]

    # Same work, in order (sklearn with shuffle=False): the parameters after one batch, and
    # the mean loss of three consecutive batches (sklearn's loss_ of a partial_fit).
    classes = np.arange(n_classes)
    ref = common.funcnn_step(sizes, lr=lr, fresh=False)
    ref_state, ref_losses, after_one = ref.state_from(init), [], None
    for i in range(3):
        xb, yb = (jnp.asarray(a[i * batch : (i + 1) * batch]) for a in (x_tr, y_tr))
        ref_state, metrics = ref.step(ref_state, (xb, yb))
        ref_losses.append(float(metrics["loss"]))
        if i == 0:
            after_one = [{k: np.asarray(v) for k, v in l.items()} for l in ref_state.params]
    one = _sklearn_classifier(init, batch, lr, shuffle=False)
    one.partial_fit(x_tr[:batch], y_tr[:batch], classes=classes)
    three = _sklearn_classifier(init, batch, lr, shuffle=False)
    three.partial_fit(x_tr[: 3 * batch], y_tr[: 3 * batch], classes=classes)
    common.assert_same_work(
        np.mean(ref_losses), three.loss_, rtol=1e-4, atol=0.0, what="sklearn vs funcnn: loss"
    )
    check = common.assert_same_work(
        after_one,
        [{"w": w, "b": b} for w, b in zip(one.coefs_, one.intercepts_)],
        rtol=1e-2,
        atol=lr / 4,
        what="sklearn vs funcnn: parameters",
        outlier_fraction=OUTLIER_FRACTION,
        outlier_atol=2.0 * lr,
    )

    # Timed: sklearn partial_fit epochs (its own shuffling, last partial batch kept) against
    # funcnn.train.make_epoch (one compiled call: a fresh permutation per epoch, lax.scan of
    # the step over n // batch batches, last partial batch dropped).
    clf = _sklearn_classifier(init, batch, lr, shuffle=True)
    xd, yd = jax.device_put(x_tr), jax.device_put(y_tr)
    epoch_fn = make_epoch(fs.model, "softmax_cross_entropy", fs.optimizer, batch_size=batch)
    state = {"s": fs.state_from(init)}
    _, compile_s = common.compile_jitted(epoch_fn, state["s"], xd, yd)

    def funcnn_epoch():
        state["s"], metrics = epoch_fn(state["s"], xd, yd)
        return metrics

    def sklearn_epoch():
        clf.partial_fit(x_tr, y_tr, classes=classes)

    timings = common.time_interleaved(
        {"funcnn": funcnn_epoch, "sklearn": sklearn_epoch},
        repeats=max(epochs, common.MIN_REPEATS),
        warmup=1,
    )
    xt, yt = jnp.asarray(x_te), jnp.asarray(y_te)
    test = evaluate(fs.model, state["s"].params, xt, yt, "softmax_cross_entropy")
    acc_funcnn = float(test["accuracy"])
    acc_sklearn = float(clf.score(x_te, y_te))
    n_epochs = timings["funcnn"].repeats + 1
    base = timings["funcnn"]
    records = []
    for name, acc, comp, how in (
        (
            "funcnn_epoch",
            acc_funcnn,
            compile_s,
            "funcnn.train.make_epoch: lax.scan over n // batch shuffled batches",
        ),
        ("sklearn", acc_sklearn, None, "MLPClassifier.partial_fit, one epoch per call (float32)"),
    ):
        t = timings["funcnn" if name == "funcnn_epoch" else "sklearn"]
        rec = common.make_record(
            NAME,
            name,
            common.workload(
                "mlp_epoch", sizes, batch, "float32", dataset=dataset, n_train=len(x_tr), lr=lr
            ),
            t,
            compile_s=comp,
            ratio=t.median / base.median,
            baseline="funcnn_epoch",
            device=device,
            ratio_paired=common.paired_ratio(t, base),
            test_accuracy=acc,
            epochs_trained=n_epochs,
            how=how,
            same_work=dict(dataclasses.asdict(check), steps=1),
        )
        records.append(rec)
    print(
        f"[peers] {dataset} epoch: funcnn {base.median * 1e3:.1f} ms (test acc {acc_funcnn:.3f}), "
        f"sklearn {timings['sklearn'].median * 1e3:.1f} ms (test acc {acc_sklearn:.3f}), "
        f"{records[1]['ratio']:.1f}x; {n_epochs} epochs each"
    )
    return records


def config_for(quick: bool, platform: str | None = None) -> dict:
    platform = platform or jax.devices()[0].platform
    return CONFIGS[("quick" if quick else "full", "cpu" if platform == "cpu" else "accel")]


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    names: Sequence[str] | None = None,
    progress=True,
) -> list[dict]:
    """Compare funcnn's step with every installed peer, and its epoch with scikit-learn's.

    Args:
        quick: the quick suite's workloads (else the full suite's).
        dtype: "float32" or "bfloat16" (scikit-learn always runs float32 and only then).
        config: override ``{"workloads": [...], "budget_s", "torch_compile", "sklearn_epochs",
            "dataset"}`` (tests use :data:`SMOKE`).
        names: contenders to run (default: all of :data:`CONTENDERS`; funcnn always runs).
    """
    cfg = dict(config or config_for(quick))
    names = list(names or CONTENDERS)
    if not cfg.get("torch_compile", False) and "torch_compile" in names:
        names.remove("torch_compile")
        print(
            "[peers] skipping torch_compile: the quick suite leaves it out (inductor compiles "
            "for minutes on a small CPU); --suite full runs it"
        )
    names = [BASELINE] + [n for n in names if n != BASELINE]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; valid: {sorted(CONTENDERS)}.")
    device = common.device_info()
    records: list[dict] = []
    for sizes, batch in cfg["workloads"]:
        records += compare_workload(
            sizes,
            batch,
            dtype=dtype,
            budget_s=cfg["budget_s"],
            names=names,
            device=device,
            progress=progress,
        )
    if dtype == "float32":
        records += sklearn_comparison(
            dataset=cfg.get("dataset", "mnist1d"),
            epochs=cfg["sklearn_epochs"],
            device=device,
            hidden=(16, 16) if cfg.get("dataset") == "synthetic" else (256, 256),
            batch=32 if cfg.get("dataset") == "synthetic" else 128,
        )
    else:
        print(f"[peers] skipping sklearn: it trains in float32/float64 only (asked for {dtype})")
    return records
