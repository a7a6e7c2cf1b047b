"""``funcnn train``: train a model on a dataset from the command line.

Usage::

    funcnn train                                   # an MLP on MNIST-1D with its recipe
    funcnn train --seeds 4                         # 4 seeds at once (jax.vmap), mean/std/ensemble
    funcnn train --model logistic_regression       # multinomial logistic regression (~32%)
    funcnn train --dataset breast_cancer --model mlp --hidden 32 --epochs 50
    funcnn train --out runs/a --epochs 100 --checkpoint-every 10   # later: add --resume
    funcnn train --json > metrics.json             # final metrics as JSON on stdout
    funcnn train --coordinator node0:8476 --num-processes 2 --process-id I --out shared/run
                                                   # one of 2 processes (jax.distributed)

This module only turns flags into a :class:`funcnn.train.JobConfig` and prints; the work is
:func:`funcnn.train.train_and_evaluate`, which writes ``<out>/metrics.json`` (configuration,
versions of jax/jaxlib/optax, device, per-epoch history, final metrics, wall time),
``<out>/learning_curves.png`` and orbax checkpoints in ``<out>/checkpoints/``. Progress goes
to stderr. A flag not given takes the chosen model's recipe (``funcnn.train.RECIPES``; why
the MNIST-1D recipe is what it is: :mod:`funcnn.train.registry`).

Under several processes (``--coordinator``/``--num-processes``/``--process-id``, their
``JAX_*`` environment variables, or a SLURM/Open MPI/Cloud TPU launch; see
:mod:`funcnn.train.distributed`) the run is data-parallel over every device of every process;
only process 0 prints and writes ``metrics.json`` and the plot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from funcnn.data import Augment
from funcnn.train import (
    JobConfig,
    NonFiniteLossError,
    distributed,
    train_and_evaluate,
)
from funcnn.train.config import parse_layer_lr
from funcnn.train_flags import (  # noqa: F401  (DEFAULTS: re-exported)
    DEFAULTS,
    FLAGS,
    INT_LISTS,
    MODEL_FLAGS,
    RULE_FLAGS,
    RUN_FLAGS,
)


class UsageError(ValueError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the flags of ``funcnn train`` (:data:`FLAGS`)."""
    parser.description = (__doc__ or "").split("\n\n")[0] + (
        " Bare `funcnn train` reaches >= 80% test accuracy on MNIST-1D: the 256-256 MLP "
        "with dropout 0.1, MNIST-1D's own shifts, scales and noise as augmentation, AdamW "
        "(weight decay 0.05) and cosine decay from 7e-3 over 120 epochs, chosen on a "
        "validation split by `funcnn tune`."
    )
    for title, flags in FLAGS.items():
        group = parser.add_argument_group(title)
        for flag, kw in flags:
            group.add_argument(flag, **kw)


def _parse_ints(text: str, flag: str) -> tuple[int, ...]:
    if text.strip() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        sizes = (0,)
    if any(s <= 0 for s in sizes):
        raise UsageError(f"--{flag} must be comma-separated positive integers; got {text!r}.")
    return sizes


def _parse_augment(text: str):
    """``shift=8,scale=0.2,noise=0.05`` -> ``Augment(8, 0.2, 0.0, 0.05)``; ``none`` -> None."""
    if text.strip().lower() in ("", "none", "off"):
        return None
    fields = {f: (int if f == "shift" else float) for f in ("shift", "scale", "shear", "noise")}
    options = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in fields:
            raise UsageError(
                f"--augment takes name=value pairs with names {', '.join(fields)}; got {part!r}."
            )
        try:
            options[name] = fields[name](value)
        except ValueError:
            raise UsageError(f"--augment {name} must be a number; got {value!r}.") from None
    return Augment(**options)


def job_config(args):
    """The :class:`funcnn.train.JobConfig` of parsed ``args`` (flags not given: None, so
    that they take the model's recipe)."""
    if args.seeds < 1:
        raise UsageError(f"--seeds must be a positive integer; got {args.seeds}.")
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out DIR, the folder of the run to continue.")
    options = {k: getattr(args, k) for k in MODEL_FLAGS if getattr(args, k) is not None}
    for name in INT_LISTS:
        if name in options:
            options[name] = _parse_ints(options[name], name)
    run = {k: getattr(args, k) for k in RUN_FLAGS if getattr(args, k) is not None}
    if "augment" in run:
        run["augment"] = _parse_augment(run["augment"])
    run.update({k: getattr(args, k) for k in RULE_FLAGS if getattr(args, k) is not None})
    if "layer_lr" in run:
        run["layer_lr"] = parse_layer_lr(run["layer_lr"])
    run.update(
        seed=args.seed,
        seeds=tuple(range(args.seed, args.seed + args.seeds)) if args.seeds > 1 else None,
        data_seed=args.data_seed,
        early_stopping_patience=args.patience,
        checkpoint_every=args.checkpoint_every or None,
        eval_train=args.eval_train,
        progress=not args.no_progress,
        dtype=args.dtype,
    )
    return JobConfig(
        model=args.model,
        dataset=args.dataset,
        model_options=options,
        run=run,
        devices=args.devices,
        val_fraction=args.val_fraction,
        cache_dir=args.cache_dir,
        plot=not args.no_plot,
        resume=args.resume,
        overwrite=args.overwrite,
    )


def _summary(final: dict, seeds: int) -> str:
    import numpy as np

    parts = []
    for split in ("train", "val", "test"):
        for k in (f"{split}_loss", f"{split}_accuracy"):
            if k not in final:
                continue
            v = np.asarray(final[k], dtype=float)
            if seeds > 1:
                parts.append(f"{k} {v.mean():.4f} +- {v.std():.4f} [{v.min():.4f}, {v.max():.4f}]")
            else:
                parts.append(f"{k} {float(v):.4f}")
    return ", ".join(parts)


def _default_out(args) -> str:
    """``runs/<dataset>-<model>-<time>``, with process 0's time on every process."""
    now = time.localtime()
    stamp = distributed.broadcast_from_primary(np.asarray(now[:6], np.int32))
    when = time.strftime("%Y%m%d-%H%M%S", (*(int(v) for v in stamp), *now[6:]))
    return os.path.join("runs", f"{args.dataset}-{args.model}-{when}")


def _start_processes(args):
    """The layout of this process (None: one process), jax.distributed started for it."""
    return distributed.initialize(
        args.coordinator,
        args.num_processes,
        args.process_id,
        mode=args.distributed,
        timeout=args.distributed_timeout,
    )


def run(args) -> int:
    """Run ``funcnn train`` with parsed ``args``; returns the exit status."""
    t0 = time.perf_counter()
    try:
        layout = _start_processes(args)
    except distributed.DistributedError as e:
        print(f"funcnn train: error: {e}", file=sys.stderr)
        return 2
    if args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    who = ""
    if layout is not None:
        who = f" (process {distributed.process_index()} of {distributed.process_count()})"
    primary = distributed.is_primary()
    out = args.out or _default_out(args)
    try:
        with distributed.native_stdout(to_stderr=primary):
            done = train_and_evaluate(job_config(args), out)
    except NonFiniteLossError as e:
        print(f"funcnn train{who}: {e}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"funcnn train{who}: error: {e}", file=sys.stderr)
        return 2
    if not primary:
        return 0
    log = sys.stderr if args.json else sys.stdout
    final = done.final
    print(f"{done.model.kind} on {done.dataset}: {_summary(final, args.seeds)}", file=log)
    if "ensemble_test_accuracy" in final:
        acc = final["ensemble_test_accuracy"]
        print(f"ensemble of {args.seeds} seeds: test_accuracy {acc:.4f}", file=log)
    print(f"wrote {out} ({time.perf_counter() - t0:.1f} s)", file=log)
    if args.json:
        print(json.dumps(done.metrics["final"]))
    return 0
