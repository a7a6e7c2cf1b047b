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
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


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
    """Library versions and the device, recorded with every result."""
    import jax
    import jaxlib
    import optax

    dev = jax.devices()[0]
    return {
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "optax": optax.__version__,
            "numpy": np.__version__,
        },
        "device": {
            "platform": dev.platform,
            "device_kind": dev.device_kind,
            "count": jax.device_count(),
        },
    }


def to_jsonable(obj):
    """numpy / jax scalars and arrays -> plain Python for json."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(to_jsonable(data), f, indent=2, sort_keys=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def pyplot():
    """matplotlib.pyplot with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> str:
    """Save a figure atomically as PNG and close it; returns the file name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        pyplot().close(fig)
    return path.name


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
) -> dict:
    """Write ``args.out/metrics.json`` and print the summary; return the record.

    Args:
        claim: what the notes say should happen, with the threshold checked.
        held: whether the measured numbers satisfy the claim.
        headline: the measured number(s) in one short line, for the report's table.
        numbers: every measured quantity worth keeping.
        plots: PNG file names inside ``args.out``.
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
    write_json_atomic(Path(args.out) / "metrics.json", record)
    status = "HOLDS" if held else "DOES NOT HOLD"
    print(f"[{name}] {status}: {claim}\n[{name}] measured: {headline}\n[{name}] wrote {args.out}/")
    return to_jsonable(record)
