"""Markdown tables, number formats and the choice of records for the benchmark report
(:mod:`benchmarks.report`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any


def ms(s: float | None) -> str:
    """Seconds as milliseconds: three decimals below 100 ms, one above; "-" for None."""
    if s is None:
        return "-"
    return f"{s * 1e3:.3f}" if s < 0.1 else f"{s * 1e3:.1f}"


def num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def gflops(x: float | None) -> str:
    """FLOP/s as GFLOP/s with one decimal."""
    return "-" if x is None else f"{x / 1e9:.1f}"


def sizes_label(work: dict) -> str:
    """A workload's sizes: ``512x512x512`` for a matmul, ``40-256-256-10`` for an MLP."""
    s = work.get("sizes")
    if not s:
        return "-"
    return "x".join(map(str, s)) if work.get("model") == "matmul" else "-".join(map(str, s))


def by_bench(records: list[dict], bench: str) -> list[dict]:
    return [r for r in records if r.get("bench") == bench]


def mlp_peers(records: list[dict]) -> list[dict]:
    """The peers benchmark's step records (not scikit-learn's epochs)."""
    return [r for r in by_bench(records, "peers") if r["workload"].get("model") == "mlp"]


def mlp_key(r: dict) -> tuple[tuple[int, ...], int]:
    """``(sizes, batch)`` of an MLP record: which workload it timed."""
    return tuple(r["workload"]["sizes"]), r["workload"]["batch"]


def paired(r: dict) -> float | None:
    """The median of per-round ratios of a record (named ``ratio_paired`` or
    ``paired_ratio`` by different benchmarks)."""
    return r.get("ratio_paired", r.get("paired_ratio"))


def same_work_cell(r: dict) -> str:
    """A record's same-work check: the largest error in units of the tolerance, and the
    parameters that took opposite rounding-level Adam steps."""
    sw = r.get("same_work")
    if not sw:
        return "-"
    out = f"ok, max err {sw['max_rel_err']:.2f} tol"
    if sw.get("outliers"):
        within = f"{sw['outlier_atol']:.3g}" if "outlier_atol" in sw else "2 lr"
        out += f", {sw['outliers']}/{sw['elements']} params within {within}"
    return out


def table(header: Sequence[str], rows: list[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


Column = tuple[str, Callable[[dict], Any]]
"""A column of :func:`records_table`: its header and the cell of a record."""


def records_table(columns: Sequence[Column], records: list[dict]) -> str:
    """A Markdown table with one row per record."""
    return table([h for h, _ in columns], [[cell(r) for _, cell in columns] for r in records])


def ratio_cell(r: dict) -> str:
    """``1.02 vs baseline (paired 1.01)``, or "-" for a record without a ratio."""
    if "ratio" not in r:
        return "-"
    p = paired(r)
    return f"{num(r.get('ratio'))} vs {r['baseline']}" + (
        f" (paired {num(p)})" if p is not None else ""
    )


GENERIC_COLUMNS: list[Column] = [
    ("name", lambda r: r["name"]),
    ("model", lambda r: r["workload"].get("model", "-")),
    ("sizes", lambda r: sizes_label(r["workload"])),
    ("batch", lambda r: "-" if r["workload"].get("batch") is None else r["workload"]["batch"]),
    ("dtype", lambda r: r["workload"].get("dtype", "-")),
    ("median ms", lambda r: ms(r["median_s"])),
    ("min / max ms", lambda r: f"{ms(r['min_s'])} / {ms(r['max_s'])}"),
    ("repeats", lambda r: r["repeats"]),
    ("compile s", lambda r: num(r.get("compile_s"))),
    ("ratio", ratio_cell),
]
"""The columns of a benchmark without a section of its own."""


def plot_line(plots: dict[str, str], name: str, alt: str) -> list[str]:
    """The Markdown image of plot ``name`` where it was drawn."""
    return [f"![{alt}]({os.path.basename(plots[name])})", ""] if name in plots else []
