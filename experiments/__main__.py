"""Run the studies and write ``results/REPORT.md``.

Usage::

    python -m experiments --quick                 # every study, small sizes (< 5 min on 2 cores)
    python -m experiments linear_regression dropout
    python -m experiments --out results --seed 0

Each study runs in this process (sharing JAX's compilation cache), writes
``OUT/NAME/metrics.json`` and its plots; the report has one row per study (claim, measured
number, whether the claim held) and every study's plots. A study that crashes is reported
as such and makes the command exit with status 1; a claim that does not hold is reported
as not holding (``--strict`` turns that into exit status 1 as well).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from experiments import STUDIES
from experiments.common import environment, write_json_atomic, write_text_atomic
from funcnn import compile_cache


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "studies",
        nargs="*",
        metavar="NAME",
        help=f"studies to run (default: all): {', '.join(STUDIES)}",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, for the report and CI")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results"), help="report folder")
    p.add_argument("--strict", action="store_true", help="exit 1 if any claim does not hold")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="compile every program afresh instead of reading JAX's persistent compilation "
        "cache in $FUNCNN_CACHE/jax (also: FUNCNN_COMPILE_CACHE=off)",
    )
    args = p.parse_args(argv)
    unknown = [s for s in args.studies if s not in STUDIES]
    if unknown:
        p.error(f"unknown study {', '.join(unknown)}; valid names are: {', '.join(STUDIES)}")
    args.studies = args.studies or list(STUDIES)
    return args


def run_study(name: str, args) -> dict:
    module = importlib.import_module(f"experiments.{name}")
    argv = ["--seed", str(args.seed), "--out", str(args.out / name)]
    if args.quick:
        argv.append("--quick")
    start = time.perf_counter()
    try:
        record = module.main(argv)
        record.setdefault("wall_time_s", time.perf_counter() - start)
        return record
    except Exception as e:  # reported in the table, never hidden
        traceback.print_exc()
        return {
            "study": name,
            "claim": getattr(module, "CLAIM", ""),
            "held": False,
            "headline": f"CRASHED: {type(e).__name__}: {e}",
            "plots": [],
            "crashed": True,
            "wall_time_s": time.perf_counter() - start,
        }


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_report(records: list[dict], args, total_s: float) -> str:
    env = environment()
    dev = env["device"]
    lines = [
        "# funcnn experiments report",
        "",
        f"Mode: {'quick' if args.quick else 'full'}; seed {args.seed}; device {dev['platform']} "
        f"({dev['device_kind']}); jax {env['versions']['jax']}, optax {env['versions']['optax']}; "
        f"total {total_s:.0f} s. Regenerate with `python -m experiments{' --quick' if args.quick else ''}`.",
        "",
        f"{sum(r['held'] for r in records)} of {len(records)} claims held.",
        "",
        "| # | study | claim | measured | holds | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(records, 1):
        held = "crashed" if r.get("crashed") else ("yes" if r["held"] else "**no**")
        lines.append(
            f"| {i} | [{r['study']}](#{r['study'].replace('_', '-')}) | {_cell(r['claim'])} | "
            f"{_cell(r['headline'])} | {held} | {r.get('wall_time_s') or 0:.1f} |"
        )
    for r in records:
        lines += [
            "",
            f"## {r['study']}",
            "",
            f"**Claim.** {r['claim']}",
            "",
            f"**Measured.** {r['headline']}",
            "",
        ]
        for png in r.get("plots", []):
            lines.append(f"![{r['study']} {png}]({r['study']}/{png})")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.no_compile_cache:
        compile_cache.disable("--no-compile-cache")
    else:
        compile_cache.enable()  # every study's programs, compiled once across runs
    start = time.perf_counter()
    records = []
    try:
        from tqdm import tqdm

        bar = tqdm(args.studies, desc="studies", unit="study", disable=args.no_progress)
    except ImportError:
        bar = args.studies
    for name in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(name)
        records.append(run_study(name, args))
    total = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "report.json", {"records": records, "total_s": total})
    write_text_atomic(args.out / "REPORT.md", render_report(records, args, total))
    held = sum(r["held"] for r in records)
    print(f"{held}/{len(records)} claims held; report: {args.out / 'REPORT.md'} ({total:.0f} s)")
    if any(r.get("crashed") for r in records):
        return 1
    if args.strict and held < len(records):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
