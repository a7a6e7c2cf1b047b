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
contenders are checked to do the same work (same losses and params after an epoch); the
record of each compared contender has the check's summary under ``same_work``.

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

import dataclasses
import os
import sys

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `funcnn` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.records import device_info, make_record, script_main, workload
from benchmarks.same_work import SameWork, assert_same_work
from benchmarks.timing import compile_jitted, paired_ratio, progress_bar, time_interleaved

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
            # benchmarks.same_work.assert_same_work).
            allowance=dict(
                outlier_fraction=1e-2,
                outlier_atol=2.0 * DEFAULTS["lr"] * (len(data.x_train) // batch),
            ),
        )
    raise ValueError(f"unknown workload {name!r}; valid: linreg, mnist1d_mlp.")


class PythonLoop:
    """One epoch as a Python loop: the batches drawn by one jitted shuffle, then the jitted
    step called once per batch. Returns ``(state, losses)``."""

    def __init__(self, w: dict, step, shuffle, state):
        self.w, self.step, self.shuffle, self.state = w, step, shuffle, state

    def __call__(self):
        import jax.numpy as jnp

        from funcnn.train import shuffle_key

        s, batch = self.state, self.w["batch"]
        n_batches = self.w["x"].shape[0] // batch
        xb, yb = self.shuffle(
            shuffle_key(s.key, s.step // n_batches), self.w["x"], self.w["y"], batch_size=batch
        )
        losses = []
        for i in range(n_batches):
            s, m = self.step(s, (xb[i], yb[i]))
            losses.append(m["loss"])
        self.state = s
        return s, jnp.stack(losses)


class ScannedEpochs:
    """Runs whose epochs are compiled calls ``epoch(state, x, y) -> (state, metrics)``:
    one run (``make_epoch``), several in turn (a list of states), or several at once
    (``make_vmapped_epoch`` on stacked states). Returns ``(params, losses)``, stacked over
    the runs where there are several in turn."""

    def __init__(self, w: dict, epoch, states):
        self.w, self.epoch, self.states = w, epoch, states

    def __call__(self):
        import jax
        import jax.numpy as jnp

        if not isinstance(self.states, list):
            self.states, m = self.epoch(self.states, self.w["x"], self.w["y"])
            return self.states.params, m["loss"]
        out = [self.epoch(s, self.w["x"], self.w["y"]) for s in self.states]
        self.states = [s for s, _ in out]
        stack = lambda *a: jnp.stack(a)  # noqa: E731
        return jax.tree.map(stack, *[s.params for s in self.states]), stack(
            *[m["loss"] for _, m in out]
        )


def _contenders(w: dict, n_seeds: int, dtype: str) -> dict[str, dict]:
    """name -> ``{"call", "compile_s", "runs", "baseline"}`` of every way to run an epoch,
    each checked to do its baseline's work (losses and params after one epoch)."""
    import jax

    from funcnn.data import epoch_batches
    from funcnn.train import (
        init_state,
        init_states,
        make_epoch,
        make_train_step,
        make_vmapped_epoch,
        shuffle_key,
    )

    model, loss, opt, x, y, batch = (
        w[k] for k in ("model", "loss", "optimizer", "x", "y", "batch")
    )
    step = make_train_step(model, loss, opt)
    shuffle = jax.jit(epoch_batches, static_argnames="batch_size")
    s0 = init_state(model, opt, jax.random.key(0))
    xb, yb = shuffle(shuffle_key(s0.key, 0), x, y, batch_size=batch)
    c_step = compile_jitted(step, s0, (xb[0], yb[0]))[1]
    c_shuffle = compile_jitted(shuffle, s0.key, x, y, batch_size=batch)[1]
    epoch = make_epoch(model, loss, opt, batch_size=batch)
    out = {
        "python_loop": dict(
            call=PythonLoop(w, step, shuffle, init_state(model, opt, jax.random.key(0))),
            compile_s=c_step + c_shuffle,
        ),
        "scan_epoch": dict(
            call=ScannedEpochs(w, epoch, init_state(model, opt, jax.random.key(0))),
            compile_s=compile_jitted(epoch, s0, x, y)[1],
            baseline="python_loop",
        ),
    }
    states = init_states(model, opt, range(n_seeds))
    for suffix, data_seed in (("", 0), ("_own_order", None)):
        seq_epoch = make_epoch(model, loss, opt, batch_size=batch, data_seed=data_seed)
        vm_epoch = make_vmapped_epoch(model, loss, opt, batch_size=batch, data_seed=data_seed)
        seq, vm = f"sequential_{n_seeds}{suffix}", f"vmap_{n_seeds}{suffix}"
        runs = [init_state(model, opt, jax.random.key(seed)) for seed in range(n_seeds)]
        out[seq] = dict(
            call=ScannedEpochs(w, seq_epoch, runs),
            compile_s=compile_jitted(seq_epoch, s0, x, y)[1],
            runs=n_seeds,
        )
        out[vm] = dict(
            call=ScannedEpochs(w, vm_epoch, init_states(model, opt, range(n_seeds))),
            compile_s=compile_jitted(vm_epoch, states, x, y)[1],
            runs=n_seeds,
            baseline=seq,
        )
    for name, c in out.items():
        if "baseline" in c:
            what = f"{name} vs {c['baseline']}"
            same = check_same_epoch(out[c["baseline"]]["call"](), c["call"](), w, dtype, what)
            c["same_work"] = dataclasses.asdict(same)
    return out


def check_same_epoch(reference, candidate, w: dict, dtype: str, what: str) -> SameWork:
    """Assert two epochs' ``(params or state, losses)`` agree (:func:`assert_same_work`, with
    the workload's allowance for Adam's rounding-level steps); returns its summary."""
    (pa, la), (pb, lb) = reference, candidate
    pa = pa.params if hasattr(pa, "params") else pa
    pb = pb.params if hasattr(pb, "params") else pb
    return assert_same_work(
        {"losses": la, "params": pa},
        {"losses": lb, "params": pb},
        dtype=dtype,
        what=what,
        **w.get("allowance", {}),
    )


def _measure(name: str, opts: dict, dtype: str, repeats: int, device: dict) -> list[dict]:
    """Build, check and time every way to run an epoch of workload ``name``: their records."""
    w = _workload(name, opts, dtype)
    n_seeds = int(opts["seeds"])
    contenders = _contenders(w, n_seeds, dtype)
    timings = time_interleaved(
        {n: c["call"] for n, c in contenders.items()}, repeats=repeats, warmup=2
    )
    model, x = w["model"], w["x"]
    work = workload(
        model.kind,
        list(model.sizes),
        w["batch"],
        dtype,
        workload=name,
        steps_per_epoch=x.shape[0] // w["batch"],
        n_train=int(x.shape[0]),
        description=w["describe"],
    )
    records = []
    for cname, c in contenders.items():
        runs = c.get("runs", 1)
        extra = {
            "runs": runs,
            "data_order": "own" if "own" in cname or runs == 1 else "shared (data_seed=0)",
        }
        ratio, baseline = None, c.get("baseline")
        if baseline is not None:
            ratio = paired_ratio(timings[cname], timings[baseline])
            extra.update(speedup=1.0 / ratio, same_work=c["same_work"])
        records.append(
            make_record(
                NAME,
                f"{name}/{cname}",
                work,
                timings[cname],
                compile_s=c["compile_s"],
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
        Records in the schema of :mod:`benchmarks.records` (``bench`` = "loop", names
        ``<workload>/<contender>``), with ``ratio``/``baseline``/``speedup`` on
        ``scan_epoch`` (vs ``python_loop``) and ``vmap_N`` (vs ``sequential_N``).
    """
    cfg = dict(config or config_for(quick))
    device = device_info()
    records = []
    items = list(cfg["workloads"].items())
    for name, opts in progress_bar(items, desc="loop", enabled=progress):
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
    return script_main(run, __doc__.split("\n\n")[0], argv, full_help="more repeats")


if __name__ == "__main__":
    sys.exit(main())
