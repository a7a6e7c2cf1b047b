"""One row of the gradient-check table (:mod:`funcnn.gradcheck.cases`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Case:
    """One model x activation x loss combination.

    ``build(key, dtype) -> (manual_grad, loss, params, batch)``: the gradient under test, the
    loss it differentiates, where to check it, and the other arguments of both.
    """

    group: str  # the --model name that selects it
    model: str  # the row label
    activation: str
    loss: str
    build: Callable
    note: str = ""
    fd: bool = True  # also check against finite differences
