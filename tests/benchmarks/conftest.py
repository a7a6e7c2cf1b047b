"""The tiny MLP workload the benchmark tests share."""

import numpy as np
import pytest

from benchmarks import peers
from benchmarks.workloads import funcnn_step, mlp_batch
from tests.benchmarks.tiny import BATCH, LR, SIZES


@pytest.fixture(scope="package")
def tiny():
    """``(x, y, init, reference)``: a batch, funcnn's initial params (NumPy) and funcnn's
    trace from them (the reference every contender is checked against)."""
    x, y = mlp_batch(SIZES, BATCH)
    base = funcnn_step(SIZES, fresh=False)
    init = [{k: np.asarray(v) for k, v in layer.items()} for layer in base.state.params]
    ref = peers.reference_trace(SIZES, init, x, y, "float32", LR)
    return x, y, init, ref
