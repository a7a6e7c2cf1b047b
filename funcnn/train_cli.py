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

from funcnn.activations import ACTIVATIONS
from funcnn.data import Augment
from funcnn.train import (
    MODELS,
    OPTIMIZERS,
    RECIPES,
    SCHEDULES,
    JobConfig,
    NonFiniteLossError,
    distributed,
    train_and_evaluate,
)
from funcnn.train.config import parse_layer_lr
from funcnn.train.optim import CONVENTIONS, IMPLS
from funcnn.train.step import UPDATES


def _float_or_none(text: str):
    return None if text.lower() in ("none", "off", "0") else float(text)


# Flags whose default is the chosen model's recipe: RunConfig fields ...
RUN_FLAGS = {
    "optimizer": dict(choices=sorted(OPTIMIZERS), help="the update rule"),
    "lr": dict(type=float, help="base (peak) learning rate"),
    "schedule": dict(choices=sorted(SCHEDULES), help="learning-rate schedule over all updates"),
    "warmup_steps": dict(type=int, help="linear warm-up updates before the schedule"),
    "momentum": dict(type=float, help="coefficient of the momentum/nesterov optimizers"),
    "weight_decay": dict(type=float, help="decoupled weight decay lambda, weights only"),
    "l2": dict(type=float, help="L2 penalty in the loss"),
    "l1": dict(type=float, help="L1 penalty in the loss"),
    "clip_norm": dict(type=_float_or_none, help="clip gradients to this global norm (0: off)"),
    "epochs": dict(type=int, help="passes over the training set"),
    "batch_size": dict(type=int, help="minibatch size"),
    "grad": dict(
        choices=("autodiff", "manual"), help="gradients from jax.grad or from funcnn.backprop"
    ),
    "label_smoothing": dict(type=float, help="train on (1 - eps) one_hot + eps / classes"),
    "augment": dict(
        metavar="SPEC",
        help="random copies of every training batch, e.g. shift=8,scale=0.2,noise=0.05 "
        "(also shear=); none: off",
    ),
}
# ... RunConfig fields that no recipe sets (default: RunConfig's) ...
RULE_FLAGS = {
    "optimizer_impl": dict(
        choices=sorted(IMPLS),
        help="optax's optimizers, or funcnn's written from the papers (default: optax)",
    ),
    "conventions": dict(
        choices=sorted(CONVENTIONS),
        help="conventions of funcnn's optimizers (default: paper; optax's with optax)",
    ),
    "layer_lr": dict(
        metavar="C1,C2,...",
        help="learning-rate multiplier of each layer (one per entry of the params list)",
    ),
    "update": dict(
        choices=sorted(UPDATES),
        help="all layers at once (u.1) or one after the other within a step (u.2) "
        "(default: simultaneous)",
    ),
}
# ... and model options (read by the models of funcnn.train.MODELS that take them).
MODEL_FLAGS = {
    "hidden": dict(help="hidden widths, comma-separated"),
    "activation": dict(choices=sorted(ACTIVATIONS), metavar="NAME", help="hidden activation"),
    "dropout": dict(
        type=float, help="drop probability after each hidden layer (cnn: before the classifier)"
    ),
    "channels": dict(help="output channels of each convolution, comma-separated"),
    "strides": dict(help="stride of each convolution, comma-separated"),
    "kernel_size": dict(type=int, help="kernel of every convolution"),
    "padding": dict(choices=("circular", "same", "valid"), help="padding of the convolutions"),
    "hidden_size": dict(type=int, help="units of the recurrent cell"),
    "chunk": dict(type=int, help="sequence samples read per recurrent step"),
    "bidirectional": dict(
        action=argparse.BooleanOptionalAction, help="a second cell over the reversed sequence"
    ),
}
INT_LISTS = ("hidden", "channels", "strides")


class UsageError(ValueError):
    pass


def _text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, Augment):
        return ",".join(f"{k}={v}" for k, v in value.to_config().items() if v)
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _recipe_flag(name: str, part: str) -> tuple[str, dict]:
    """``(flag, argparse keywords)`` with default None and the recipes' values in the help:
    ``(default: V)``, or each model's where they differ."""
    kw = RUN_FLAGS[name] if part == "run" else MODEL_FLAGS[name]
    texts = {
        m: _text(getattr(r, part)[name]) for m, r in RECIPES.items() if name in getattr(r, part)
    }
    if len(set(texts.values())) == 1:
        default = next(iter(texts.values()))
    else:
        default = ", ".join(f"{m}: {t}" for m, t in texts.items())
    return _flag(name), {**kw, "default": None, "help": f"{kw['help']} (default: {default})"}


# The MNIST-1D MLP's defaults by flag name (read by experiments and benchmarks).
DEFAULTS = dict(
    model="mlp",
    dataset="mnist1d",
    **{k: _text(v) if k == "hidden" else v for k, v in RECIPES["mlp"].model.items()},
    **RECIPES["mlp"].run,
    seed=0,
    seeds=1,
    checkpoint_every=25,
)

_MODELS_HELP = "; ".join(f"{k}: {e.help}" for k, e in MODELS.items())
FLAGS = {
    "model and data": [
        (
            "--model",
            dict(default="mlp", choices=sorted(MODELS), help=_MODELS_HELP + " (default: mlp)"),
        ),
        (
            "--dataset",
            dict(default="mnist1d", help="a name of funcnn.data.DATASETS (default: %(default)s)"),
        ),
        *[_recipe_flag(name, "model") for name in MODEL_FLAGS],
        (
            "--val-fraction",
            dict(
                type=float,
                default=0.0,
                help="hold out this fraction of the training set for validation",
            ),
        ),
        (
            "--cache-dir",
            dict(help="where MNIST-1D is cached (default: $FUNCNN_CACHE or ~/.cache/funcnn)"),
        ),
        ("--dtype", dict(default="float32", choices=("float32", "float64"))),
    ],
    "optimization (default: the model's recipe)": [
        *[_recipe_flag(name, "run") for name in RUN_FLAGS],
        *[(_flag(name), kw) for name, kw in RULE_FLAGS.items()],
        (
            "--patience",
            dict(
                type=int,
                help="early stopping after this many epochs without validation improvement "
                "(needs --val-fraction)",
            ),
        ),
    ],
    "runs, devices and output": [
        ("--seed", dict(type=int, default=0, help="(default: %(default)s)")),
        (
            "--data-seed",
            dict(
                type=int,
                help="fix the order of the training set by this seed instead of by each run's "
                "seed (with --seeds: all runs see the same batches)",
            ),
        ),
        (
            "--seeds",
            dict(
                type=int,
                default=1,
                help="train seeds seed, seed+1, ... at once with jax.vmap (default: 1)",
            ),
        ),
        (
            "--devices",
            dict(
                type=int,
                default=1,
                help="data-parallel over this many devices, 0 for all (default: 1)",
            ),
        ),
        ("--out", dict(help="output folder (default: runs/<dataset>-<model>-<time>)")),
        (
            "--checkpoint-every",
            dict(
                type=int,
                default=DEFAULTS["checkpoint_every"],
                help="checkpoint every N epochs and at the end; 0: only at the end "
                "(default: %(default)s)",
            ),
        ),
        (
            "--resume",
            dict(action="store_true", help="continue from the last complete checkpoint in --out"),
        ),
        (
            "--overwrite",
            dict(
                action="store_true",
                help="delete the checkpoints of an earlier run in --out and start afresh",
            ),
        ),
        (
            "--json",
            dict(
                action="store_true",
                help="print the final metrics as JSON on stdout (the summary goes to stderr)",
            ),
        ),
        (
            "--eval-train",
            dict(
                action="store_true",
                help="evaluate on the whole training set after every epoch (default: only at "
                "the end; the test/validation sets are evaluated every epoch)",
            ),
        ),
        ("--no-progress", dict(action="store_true", help="hide the progress bar")),
        ("--no-plot", dict(action="store_true", help="do not write learning_curves.png")),
    ],
    "processes (jax.distributed: one run data-parallel over every device of every process)": (
        distributed.FLAGS
    ),
}


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
