"""loop: one training epoch as a Python loop, as one scanned call, and N seeds at once.

For each workload one epoch is timed four ways, interleaved in the same run:

* ``python_loop``: the epoch's batches drawn on device by one jitted shuffle, then a Python
  ``for`` over them calling the jitted step (:func:`funcnn.train.make_train_step`) once per
  batch: one dispatch (plus a slice of each batch) per step;
* ``scan_epoch``: the whole epoch as one compiled call (:func:`funcnn.train.make_epoch`,
  ``jax.lax.scan`` over the batches, shuffling included);
* ``sequential_N``: N runs (seeds), one scanned epoch each, called one after the other;
* ``vmap_N``: the same N runs in one compiled call (:func:`funcnn.train.make_vmapped_epoch`).

The N runs differ in their seed (init and dropout) and share one data order
(``data_seed=0``: ``fit_seeds(..., data_seed=0)``), so the vmapped epoch shuffles once for
all of them. ``sequential_N_own_order`` / ``vmap_N_own_order`` repeat the comparison with
each run drawing its own permutation every epoch (the default of ``fit_seeds``): a sort of
the training set per run and epoch that vmap cannot share, which bounds that speedup for
models as small as linear regression.

``ratio`` is the paired (same-round) median of ``median_s / baseline``: scan_epoch against
python_loop, vmap against sequential; ``speedup`` = 1 / ratio. Before timing, the
contenders are checked to do the same work (same losses and params after an epoch).

Workloads:

* ``linreg``: the digest's linear regression (section 3): 1,000 samples of
  ``y = X (2, -3.4) + 4.2 + N(0, 0.01^2)``, batch 10 (100 steps per epoch), SGD lr 0.03,
  squared loss. Each step is a few hundred FLOPs, so a Python loop is dispatch-bound.
  Targets on CPU: scan >= 10x the loop, 16 seeds at once >= 5x 16 sequential runs.
* ``mnist1d_mlp``: ``funcnn train``'s default MNIST-1D model (40-256-256-10 ReLU, dropout
  0.2, AdamW with weight decay 0.05, cosine schedule), batch 128 (31 steps per epoch):
  compute-bound on 2 CPU cores; with an accelerator the vmap figure is where the win is.

    python -m benchmarks --only loop
    python benchmarks/bench_loop.py [--full]
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "loop"

CONFIGS = {
    "quick": {
        "workloads": {"linreg": {"seeds": 16}, "mnist1d_mlp": {"seeds": 8}},
        "repeats": 20,
    },
    "full": {
        "workloads": {"linreg": {"seeds": 16}, "mnist1d_mlp": {"seeds": 8}},
        "repeats": 50,
    },
}
SMOKE = {"workloads": {"linreg": {"seeds": 4, "n": 200}}, "repeats": 20}


def _workload(name: str, opts: dict, dtype: str):
    """(model, loss, optimizer, x, y, batch, sizes, description) of a workload."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import funcnn
    from funcnn.train import make_optimizer, make_schedule

    jdt = jnp.dtype(dtype)
    if name == "linreg":
        from funcnn.data import make_linear

        x, y = make_linear(jax.random.key(0), n=opts.get("n", 1000))
        model = funcnn.linear_regression(2)
        return dict(
            model=model,
            loss="mse",
            optimizer=make_optimizer("sgd", 0.03),
            x=jnp.asarray(np.asarray(x), jdt),
            y=jnp.asarray(np.asarray(y), jdt),
            batch=10,
            describe=f"linear regression, digest section 3: n={x.shape[0]}, batch 10, SGD lr 0.03",
        )
    if name == "mnist1d_mlp":
        from funcnn.data import load
        from funcnn.train_cli import DEFAULTS

        data = load("mnist1d")
        hidden = [int(h) for h in DEFAULTS["hidden"].split(",")]
        model = funcnn.mlp([40, *hidden, 10], DEFAULTS["activation"], dropout=DEFAULTS["dropout"])
        batch = DEFAULTS["batch_size"]
        steps = DEFAULTS["epochs"] * (len(data.x_train) // batch)
        sched = make_schedule(DEFAULTS["schedule"], DEFAULTS["lr"], total_steps=steps)
        opt = make_optimizer(DEFAULTS["optimizer"], sched, weight_decay=DEFAULTS["weight_decay"])
        return dict(
            model=model,
            loss="softmax_cross_entropy",
            optimizer=opt,
            x=jnp.asarray(data.x_train, jdt),
            y=jnp.asarray(data.y_train),
            batch=batch,
            describe="funcnn train's default MNIST-1D MLP (dropout 0.2, AdamW, cosine)",
            # Adam divides each step by the gradient's own scale: where a gradient is at the
            # level of float rounding, two summation orders (batched vs single matmuls) can
            # step a coordinate by ~lr in opposite directions, and over an epoch's 31 steps
            # ReLU and dropout spread that to a few more (about 0.4% of the params of one of
            # 8 runs here); the losses must still agree to 2e-4 at every step (see
            # benchmarks.common.assert_same_work).
            allowance=dict(
                outlier_fraction=1e-2,
                outlier_atol=2.0 * DEFAULTS["lr"] * (len(data.x_train) // batch),
            ),
        )
    raise ValueError(f"unknown workload {name!r}; valid: linreg, mnist1d_mlp.")


def _measure(name: str, opts: dict, dtype: str, repeats: int, device: dict) -> list[dict]:
    import jax

    from benchmarks import common
    from funcnn.train import init_state, init_states, make_epoch, make_train_step
    from funcnn.train import make_vmapped_epoch as vmapped
    from funcnn.train.state import shuffle_key
    from funcnn.train.step import epoch_batches

    w = _workload(name, opts, dtype)
    model, loss, opt, x, y, batch = (
        w["model"],
        w["loss"],
        w["optimizer"],
        w["x"],
        w["y"],
        w["batch"],
    )
    n_seeds = int(opts["seeds"])
    n_batches = x.shape[0] // batch
    step = make_train_step(model, loss, opt)
    shuffle = jax.jit(epoch_batches, static_argnames="batch_size")

    def fresh(seed=0):
        return init_state(model, opt, jax.random.key(seed))

    # -- the contenders (each keeps its own state; states are donated) ------------------------
    class Loop:
        def __init__(self):
            self.state = fresh()

        def __call__(self):
            s = self.state
            e = s.step // n_batches
            xb, yb = shuffle(shuffle_key(s.key, e), x, y, batch_size=batch)
            losses = []
            for i in range(n_batches):
                s, m = step(s, (xb[i], yb[i]))
                losses.append(m["loss"])
            self.state = s
            return s, jax.numpy.stack(losses)

    class Scan:
        def __init__(self, epoch, seed=0):
            self.epoch, self.state = epoch, fresh(seed)

        def __call__(self):
            self.state, m = self.epoch(self.state, x, y)
            return self.state, m["loss"]

    class Sequential:
        def __init__(self, epoch):
            self.runs = [Scan(epoch, seed) for seed in range(n_seeds)]

        def __call__(self):
            out = [run() for run in self.runs]
            stack = lambda *a: jax.numpy.stack(a)  # noqa: E731
            return jax.tree.map(stack, *[o[0].params for o in out]), stack(*[o[1] for o in out])

    class Many:
        def __init__(self, epoch):
            self.epoch, self.state = epoch, init_states(model, opt, range(n_seeds))

        def __call__(self):
            self.state, m = self.epoch(self.state, x, y)
            return self.state.params, m["loss"]

    def same_work(a, b, what):
        (pa, la), (pb, lb) = a, b
        pa = pa.params if hasattr(pa, "params") else pa
        pb = pb.params if hasattr(pb, "params") else pb
        common.assert_same_work(
            {"losses": la, "params": pa},
            {"losses": lb, "params": pb},
            dtype=dtype,
            what=what,
            **w.get("allowance", {}),
        )

    s0 = fresh()
    xb, yb = shuffle(shuffle_key(s0.key, 0), x, y, batch_size=batch)
    _, c_step = common.compile_jitted(step, s0, (xb[0], yb[0]))
    _, c_shuffle = common.compile_jitted(shuffle, s0.key, x, y, batch_size=batch)
    epoch = make_epoch(model, loss, opt, batch_size=batch)
    _, c_epoch = common.compile_jitted(epoch, s0, x, y)
    contenders = {"python_loop": Loop(), "scan_epoch": Scan(epoch)}
    compile_s = {"python_loop": c_step + c_shuffle, "scan_epoch": c_epoch}
    baselines = {"scan_epoch": "python_loop"}
    runs = {"python_loop": 1, "scan_epoch": 1}
    same_work(contenders["python_loop"](), contenders["scan_epoch"](), "scan vs loop")
    states = init_states(model, opt, range(n_seeds))
    for suffix, data_seed in (("", 0), ("_own_order", None)):
        seq_epoch = make_epoch(model, loss, opt, batch_size=batch, data_seed=data_seed)
        vm_epoch = vmapped(model, loss, opt, batch_size=batch, data_seed=data_seed)
        seq, vm = f"sequential_{n_seeds}{suffix}", f"vmap_{n_seeds}{suffix}"
        _, compile_s[seq] = common.compile_jitted(seq_epoch, s0, x, y)
        _, compile_s[vm] = common.compile_jitted(vm_epoch, states, x, y)
        contenders[seq], contenders[vm] = Sequential(seq_epoch), Many(vm_epoch)
        same_work(contenders[seq](), contenders[vm](), f"{vm} vs {seq}")
        baselines[vm] = seq
        runs[seq] = runs[vm] = n_seeds

    timings = common.time_interleaved(contenders, repeats=repeats, warmup=2)
    work = common.workload(
        model.kind,
        list(model.sizes),
        batch,
        dtype,
        workload=name,
        steps_per_epoch=n_batches,
        n_train=int(x.shape[0]),
        description=w["describe"],
    )
    records = []
    for cname in contenders:
        extra = {
            "runs": runs[cname],
            "data_order": "own" if "own" in cname or runs[cname] == 1 else "shared (data_seed=0)",
        }
        ratio, baseline = None, baselines.get(cname)
        if baseline is not None:
            ratio = common.paired_ratio(timings[cname], timings[baseline])
            extra["speedup"] = 1.0 / ratio
        records.append(
            common.make_record(
                NAME,
                f"{name}/{cname}",
                work,
                timings[cname],
                compile_s=compile_s[cname],
                ratio=ratio,
                baseline=None if baseline is None else f"{name}/{baseline}",
                device=device,
                **extra,
            )
        )
    return records


def config_for(quick: bool) -> dict:
    return CONFIGS["quick" if quick else "full"]


def run(
    quick: bool = True, *, dtype: str = "float32", config: dict | None = None, progress: bool = True
) -> list[dict]:
    """Time the four ways of running an epoch for each workload.

    Args:
        quick: the quick configuration (else the full one: more repeats).
        dtype: of params and data ("float32"; "bfloat16" also works).
        config: override ``{"workloads": {name: {"seeds": N}}, "repeats": R}``.
        progress: show a progress bar over the workloads.

    Returns:
        Records in the schema of :mod:`benchmarks.common` (``bench`` = "loop", names
        ``<workload>/<contender>``), with ``ratio``/``baseline``/``speedup`` on
        ``scan_epoch`` (vs ``python_loop``) and ``vmap_N`` (vs ``sequential_N``).
    """
    from benchmarks import common

    cfg = dict(config or config_for(quick))
    device = common.device_info()
    records = []
    items = list(cfg["workloads"].items())
    for name, opts in common.progress(items, desc="loop", enabled=progress):
        recs = _measure(name, opts, dtype, int(cfg["repeats"]), device)
        for r in recs:
            speed = f", {r['speedup']:.1f}x vs {r['baseline']}" if "speedup" in r else ""
            print(
                f"[loop] {r['name']}: {r['median_s'] * 1e3:.3f} ms per epoch "
                f"(compile {r['compile_s']:.2f} s){speed}"
            )
        records.extend(recs)
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="more repeats")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    args = parser.parse_args(argv)
    records = run(quick=not args.full)
    if args.json:
        print(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
