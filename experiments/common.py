"""What every study shares: flags, the metrics.json record, atomic files, plots.

A study module ``experiments/NAME.py`` has

* a docstring whose first paragraph states the **claim** with its threshold,
* ``CLAIM``: the same claim in one line, shown in the report,
* ``build_parser()`` (from :func:`make_parser`, plus the study's own knobs),
* ``main(argv=None) -> dict``: runs the study, writes ``OUT/metrics.json`` and PNG plots via
  :func:`finish`, prints a short summary and returns the record.

Everything is deterministic from ``--seed``; ``--quick`` shrinks sizes for the report and CI.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from funcnn.io import provenance, to_jsonable
from funcnn.io import save_figure as write_png
from funcnn.io import write_json as write_json_atomic
from funcnn.io import write_text as write_text_atomic

__all__ = [
    "Timer",
    "environment",
    "finish",
    "make_parser",
    "pyplot",
    "run_seeds",
    "save_figure",
    "to_jsonable",
    "write_json_atomic",
    "write_text_atomic",
]


def make_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The flags every study has: ``--quick``, ``--seed``, ``--out``."""
    p = argparse.ArgumentParser(
        prog=f"python -m experiments.{name}",
        description=(doc or "").strip().split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes (for the report and CI)")
    p.add_argument("--seed", type=int, default=0, help="seed of the single jax.random.key")
    p.add_argument("--out", type=Path, default=Path("results") / name, help="output folder")
    return p


def environment() -> dict[str, Any]:
    """Library versions and the device, recorded with every result (:func:`funcnn.io.provenance`)."""
    return provenance()


def pyplot():
    """matplotlib.pyplot with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> str:
    """Save a figure atomically as PNG and close it; returns the file name."""
    try:
        write_png(fig, path)
    finally:
        pyplot().close(fig)
    return Path(path).name


def run_seeds(key, n: int) -> list[int]:
    """``n`` integer seeds (for ``funcnn.train.fit_seeds``) drawn from ``key``."""
    import jax

    return [int(s) for s in jax.random.randint(key, (n,), 0, 2**31 - 1)]


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def finish(
    name: str,
    args: argparse.Namespace,
    *,
    claim: str,
    held: bool,
    headline: str,
    numbers: dict,
    plots: list[str],
    config: dict | None = None,
    wall_time_s: float | None = None,
    held_draws: list[bool] | None = None,
) -> dict:
    """Write ``args.out/metrics.json`` and print the summary; return the record.

    Args:
        claim: what the notes say should happen, with the threshold checked.
        held: whether the measured numbers satisfy the claim.
        headline: the measured number(s) in one short line, for the report's table.
        numbers: every measured quantity worth keeping.
        plots: PNG file names inside ``args.out``.
        held_draws: where the study evaluates its claim on several seeds or data draws itself,
            the verdict on each; the record then carries them and their ``held_fraction``,
            and ``python -m experiments`` does not rerun the study with other seeds.
    """
    record = {
        "study": name,
        "claim": claim,
        "held": bool(held),
        "headline": headline,
        "numbers": numbers,
        "plots": list(plots),
        "config": {**{k: v for k, v in vars(args).items()}, **(config or {})},
        "wall_time_s": wall_time_s,
        **environment(),
    }
    if held_draws is not None:
        record["held_draws"] = [bool(h) for h in held_draws]
        record["held_fraction"] = sum(record["held_draws"]) / max(1, len(held_draws))
        record["held_over"] = "draws"
    write_json_atomic(Path(args.out) / "metrics.json", record)
    status = "HOLDS" if held else "DOES NOT HOLD"
    print(f"[{name}] {status}: {claim}\n[{name}] measured: {headline}\n[{name}] wrote {args.out}/")
    return to_jsonable(record)
