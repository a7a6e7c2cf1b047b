"""gru_peers: the bidirectional GRU's training step in funcnn, Flax NNX, Equinox and PyTorch.

Every contender trains :class:`benchmarks.nets.GRUSpec`'s network (the 40 features as 20 steps
of 2, a bidirectional GRU of 96 units per direction, both last states into a dense layer of
10 logits) with softmax cross-entropy (batch mean) and Adam(1e-3, eps 1e-8) on the same batch
from funcnn's initial parameters. Each library writes funcnn's GRU from its own primitives
(the reset gate before the hidden matmul, one bias per gate: :mod:`benchmarks.nets`), since
the built-in GRU cells of PyTorch and Flax compute other values. The contenders are the
``GRU_CONTENDERS`` of the family modules of :mod:`benchmarks.peers`:

* ``funcnn``: the engine's step with ``grad="autodiff"`` (the baseline: autodiff through the
  scan, as the JAX peers do), and ``funcnn_manual``, with the hand-written BPTT;
* ``flax_nnx``, ``equinox``: the cell from ``nnx.Linear`` / ``eqx.nn.Linear`` under
  ``jax.lax.scan``;
* ``torch_eager``: the cell from ``nn.Linear`` in a Python loop over the steps.

As in :mod:`benchmarks.peers`, each contender's first three steps must give funcnn's losses
and, after the first, its parameters (:func:`benchmarks.peers.verify_same_work`) before
anything is timed; a contender whose library is missing is skipped with the reason. Then all
are timed interleaved and ``ratio`` = the contender's median / funcnn's (> 1: funcnn is
faster); ``ratio_to_manual`` divides by ``funcnn_manual``'s median of the same run.

    python -m benchmarks --only gru_peers
    python benchmarks/bench_gru_peers.py [--full]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `funcnn` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import peers
from benchmarks.net_peers import compare_net
from benchmarks.nets import GRUSpec
from benchmarks.records import script_main
from benchmarks.workloads import ADAM_LR, suite_config

NAME = "gru_peers"
BASELINE = peers.BASELINE

CONTENDERS, PACKAGES_OF = peers.discover("GRU_CONTENDERS")
"""name -> builder ``(spec, init, x, y, dtype, lr) -> Contender``; name -> its packages."""
PACKAGES = tuple(dict.fromkeys(p for ps in PACKAGES_OF.values() for p in ps))

CONFIGS = {
    ("quick", "cpu"): {"spec": GRUSpec(), "batch": 128, "budget_s": 4.0},
    ("full", "cpu"): {"spec": GRUSpec(), "batch": 128, "budget_s": 20.0},
    ("quick", "accel"): {"spec": GRUSpec(), "batch": 128, "budget_s": 5.0},
    ("full", "accel"): {"spec": GRUSpec(), "batch": 128, "budget_s": 15.0},
}
SMOKE = {"spec": GRUSpec(steps=5, n_in=2, hidden=8, n_classes=4), "batch": 8, "budget_s": 0.1}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    names: Sequence[str] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Check every available contender does funcnn's GRU step, then time them interleaved.

    Args:
        quick: the quick configuration (a shorter timing budget) or the full one.
        dtype: "float32" or "bfloat16".
        config: override ``{"spec": GRUSpec, "batch", "budget_s"}`` (tests use :data:`SMOKE`).
        names: contenders to run (default: all of :data:`CONTENDERS`; funcnn always runs).

    Returns:
        One record per contender that ran (funcnn's lists the skipped ones, and why, under
        ``skipped``), ``ratio`` against funcnn measured in the same run.
    """
    cfg = dict(config or suite_config(CONFIGS, quick))
    return compare_net(
        NAME,
        CONTENDERS,
        PACKAGES_OF,
        cfg["spec"],
        int(cfg["batch"]),
        dtype=dtype,
        lr=ADAM_LR,
        budget_s=cfg["budget_s"],
        names=names,
        progress=progress,
    )


def main(argv=None) -> int:
    return script_main(run, __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
