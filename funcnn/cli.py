"""The ``funcnn`` command.

Subcommands live in their own modules, each providing ``add_arguments(parser)`` and
``run(args) -> int``; they are imported only when used, so ``funcnn --help`` stays fast.
Every subcommand runs with JAX's persistent compilation cache switched on
(:mod:`funcnn.compile_cache`) unless ``--no-compile-cache`` or ``FUNCNN_COMPILE_CACHE=off``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "gradcheck": (
        "funcnn.gradcheck_cli",
        "check hand-written gradients against jax.grad and finite differences",
    ),
    "train": ("funcnn.train_cli", "train a model on a dataset (MNIST-1D by default)"),
    "tune": (
        "funcnn.tune_cli",
        "choose a model's recipe on a validation split, then test the choice once",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    from funcnn import __version__

    parser = argparse.ArgumentParser(
        prog="funcnn",
        description="funcnn: deep-learning fundamentals as pure JAX functions.",
    )
    parser.add_argument("--version", action="version", version=f"funcnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(command_module=module)
        p.add_argument(
            "--no-compile-cache",
            action="store_true",
            help="compile every program afresh instead of reading JAX's persistent compilation "
            "cache in $FUNCNN_CACHE/jax (also: FUNCNN_COMPILE_CACHE=off)",
        )
        try:
            importlib.import_module(module).add_arguments(p)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from funcnn import compile_cache

    if args.no_compile_cache:
        compile_cache.disable("--no-compile-cache")
    else:
        compile_cache.enable()
    return int(importlib.import_module(args.command_module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
