"""cnn_peers: the CNN's training step in funcnn, Flax linen and NNX, Equinox, Haiku and PyTorch.

Every contender trains the CNN recipe's network (``funcnn train --model cnn``:
:class:`benchmarks.nets.CNNSpec`, 1-D circular convolutions of 64, 64, 128 and 128 channels
with strides 1, 2, 1, 2 and kernel 5, ReLU, global average pooling, a dense layer of 10
logits) on a batch of 128 MNIST-1D-shaped sequences (40 samples) with the softmax
cross-entropy (batch mean) and the recipe's AdamW (lr 6e-3, weight decay 0.05 on the weights
only, scaled by the learning rate; held constant: :func:`benchmarks.nets.cnn_adamw`), from
funcnn's initial parameters. The recipe's dropout before the classifier is off in the timed
step (every contender would draw its own mask: no two could compute the same values). The
contenders are the ``CNN_CONTENDERS`` of the family modules of :mod:`benchmarks.peers`:

* ``funcnn``: the engine's step with ``grad="autodiff"`` (the baseline: ``jax.value_and_grad``,
  as the JAX peers do), and ``funcnn_manual``, with the hand-written convolution backward
  (``grad="manual"``, the recipe's);
* ``flax_linen``, ``flax_nnx``: ``nn.Conv`` / ``nnx.Conv`` with ``padding="CIRCULAR"``;
* ``equinox``: ``eqx.nn.Conv1d`` with ``padding_mode="CIRCULAR"`` per example, ``jax.vmap``;
* ``haiku``: ``hk.Conv1D(padding="VALID")`` after ``jnp.pad(mode="wrap")``;
* ``torch_eager``: ``nn.Conv1d`` with ``padding_mode="circular"``, ``optim.AdamW``.

Each library gets funcnn's weights in its own layout (PyTorch and Equinox store a conv weight
as ``(c_out, c_in, k)``, the JAX libraries as funcnn, ``(k, c_in, c_out)``). As in
:mod:`benchmarks.peers`, each contender's first three steps must give funcnn's losses and,
after the first, its parameters before anything is timed; a contender whose library is
missing is skipped with the reason. Then all are timed interleaved: ``ratio`` = the
contender's median / funcnn's (> 1: funcnn is faster), ``ratio_to_manual`` = / funcnn_manual's.

    python -m benchmarks --only cnn_peers
    python benchmarks/bench_cnn_peers.py [--full]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `funcnn` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import peers
from benchmarks.net_peers import compare_net
from benchmarks.nets import CNN_FLOPS_FORMULA, CNNSpec, cnn_adamw, cnn_step_flops
from benchmarks.records import script_main
from benchmarks.workloads import suite_config

NAME = "cnn_peers"

CONTENDERS, PACKAGES_OF = peers.discover("CNN_CONTENDERS")
"""name -> builder ``(spec, init, x, y, dtype, lr, *, weight_decay) -> Contender``; name ->
its packages."""
PACKAGES = tuple(dict.fromkeys(p for ps in PACKAGES_OF.values() for p in ps))

RECIPE = CNNSpec(dropout=0.0)
"""The CNN recipe's network without its dropout (module docstring)."""
CONFIGS = {
    ("quick", "cpu"): {"spec": RECIPE, "batch": 128, "budget_s": 6.0},
    ("full", "cpu"): {"spec": RECIPE, "batch": 128, "budget_s": 30.0},
    ("quick", "accel"): {"spec": RECIPE, "batch": 128, "budget_s": 5.0},
    ("full", "accel"): {"spec": RECIPE, "batch": 128, "budget_s": 15.0},
}
SMOKE = {
    "spec": CNNSpec(
        input_length=12, n_classes=4, channels=(4, 8), strides=(1, 2), kernel_size=3, dropout=0.0
    ),
    "batch": 8,
    "budget_s": 0.1,
}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    names: Sequence[str] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Check every available contender does funcnn's CNN step, then time them interleaved
    (:func:`benchmarks.net_peers.compare_net`; the arguments are
    :func:`benchmarks.bench_gru_peers.run`'s, ``config["spec"]`` a
    :class:`benchmarks.nets.CNNSpec` without dropout). One record per contender that ran."""
    cfg = dict(config or suite_config(CONFIGS, quick))
    spec, batch = cfg["spec"], int(cfg["batch"])
    if spec.dropout:
        raise ValueError("the timed CNN step has no dropout (module docstring).")
    adamw = cnn_adamw()
    return compare_net(
        NAME,
        CONTENDERS,
        PACKAGES_OF,
        spec,
        batch,
        dtype=dtype,
        lr=adamw["lr"],
        budget_s=cfg["budget_s"],
        names=names,
        options={"weight_decay": adamw["weight_decay"]},
        progress=progress,
        fields={"flops": cnn_step_flops(spec, batch), "flops_formula": CNN_FLOPS_FORMULA},
        optimizer="adamw",
        weight_decay=adamw["weight_decay"],
    )


def main(argv=None) -> int:
    return script_main(run, __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
