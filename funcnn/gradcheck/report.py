"""The result of a gradient check: one row per leaf, printed as a table."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class GradcheckRow:
    """One leaf of a :class:`GradcheckReport`."""

    leaf: str
    shape: tuple
    max_abs_err: float  # vs jax.grad
    max_rel_err: float  # vs jax.grad
    max_rel_err_fd: float | None  # vs central finite differences (None: not checked)
    fd_coords: int  # how many coordinates finite differences checked
    worst_index: tuple | None  # index of the largest relative error vs jax.grad
    passed: bool
    note: str = ""
    grad_scale: float = math.nan  # max |jax.grad| over the leaf (0: a zero gradient)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        d["worst_index"] = None if self.worst_index is None else list(self.worst_index)
        d["pass"] = d.pop("passed")
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "PASS" if v else "FAIL"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.2e}"
    if isinstance(v, tuple):
        return "(" + ",".join(str(i) for i in v) + ")"
    return str(v)


def format_table(records: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A plain-text table of ``records`` with ``columns = [(key, header), ...]``."""
    cells = [[_fmt(r.get(k)) for k, _ in columns] for r in records]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, (_, h) in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()
    out = [line([h for _, h in columns]), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


REPORT_COLUMNS = [
    ("leaf", "leaf"),
    ("shape", "shape"),
    ("max_abs_err", "max abs err"),
    ("max_rel_err", "max rel err (autodiff)"),
    ("max_rel_err_fd", "max rel err (fd)"),
    ("pass", "pass"),
    ("note", "note"),
]


@dataclasses.dataclass(frozen=True)
class GradcheckReport:
    """The result of :func:`check_grads`: one row per leaf; prints as a table."""

    rows: tuple[GradcheckRow, ...]
    rtol: float
    fd_rtol: float
    floor_frac: float
    dtype: str
    context: dict = dataclasses.field(default_factory=dict)  # e.g. model, activation, loss

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def failures(self) -> list[GradcheckRow]:
        return [r for r in self.rows if not r.passed]

    def to_dicts(self) -> list[dict]:
        """The rows as JSON-ready dicts, each with the report's context fields first."""
        return [{**self.context, **r.to_dict()} for r in self.rows]

    def __str__(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in self.context.items())
        title = (
            f"gradcheck {head + ' ' if head else ''}[{self.dtype}; rtol {self.rtol:g} vs autodiff, "
            f"{self.fd_rtol:g} vs finite differences; floor {self.floor_frac:g} x leaf max]"
        )
        status = (
            "PASSED" if self.passed else f"FAILED ({len(self.failures)} of {len(self.rows)} leaves)"
        )
        return f"{title}\n{format_table(self.to_dicts(), REPORT_COLUMNS)}\n{status}"

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return str(self)
