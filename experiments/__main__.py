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

Every claim is evaluated over ``--seeds`` seeds (default 3; 1 with ``--quick``): a study that
checks its claim on several seeds or data draws itself (``held_draws`` in its record) runs
once; any other runs again with seeds ``SEED + 1, ...`` (into ``OUT/NAME/seed_S/``), and its
claim holds only if it holds for every seed. The report gives the fraction that held.
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
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds each claim is evaluated over (default 3; with --quick 1)",
    )
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
    if args.seeds is None:
        args.seeds = 1 if args.quick else 3
    if args.seeds < 1:
        p.error(f"--seeds must be >= 1; got {args.seeds}")
    return args


def run_over_seeds(study_main, name: str, args) -> dict:
    """``study_main(argv) -> record`` with ``--seed``, then with ``--seed + 1, ...`` until the
    claim has been evaluated ``args.seeds`` times.

    A record that already carries ``held_draws`` (at least ``args.seeds`` verdicts, from the
    study's own draws) is returned as it is. Otherwise the first seed's record is returned
    with ``held_draws`` (one verdict per seed), ``held_fraction``, ``held_over = "seeds"``,
    and ``held`` true only if the claim held for every seed.
    """

    def run(seed: int, out: Path) -> dict:
        argv = ["--seed", str(seed), "--out", str(out)]
        return study_main(argv + ["--quick"] if args.quick else argv)

    record = run(args.seed, args.out / name)
    if len(record.get("held_draws") or []) >= args.seeds:
        return record
    held = [bool(record["held"])]
    for seed in range(args.seed + 1, args.seed + args.seeds):
        held.append(bool(run(seed, args.out / name / f"seed_{seed}")["held"]))
    if len(held) > 1:
        record.update(
            held=all(held), held_draws=held, held_fraction=sum(held) / len(held), held_over="seeds"
        )
    return record


def run_study(name: str, args) -> dict:
    module = importlib.import_module(f"experiments.{name}")
    start = time.perf_counter()
    try:
        record = run_over_seeds(module.main, name, args)
        if record.get("held_over") == "seeds" or record.get("wall_time_s") is None:
            record["wall_time_s"] = time.perf_counter() - start
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


def verdict(record: dict) -> str:
    """``yes``, ``**no**`` or ``crashed``, with the fraction of seeds or draws that held."""
    if record.get("crashed"):
        return "crashed"
    text = "yes" if record["held"] else "**no**"
    draws = record.get("held_draws")
    if draws:
        text += f" ({sum(draws)}/{len(draws)} {record.get('held_over', 'draws')})"
    return text


def render_report(records: list[dict], args, total_s: float) -> str:
    env = environment()
    dev = env["device"]
    lines = [
        "# funcnn experiments report",
        "",
        f"Mode: {'quick' if args.quick else 'full'}; seed {args.seed}; device {dev['platform']} "
        f"({dev['device_kind']}); jax {env['versions']['jax']}, optax {env['versions']['optax']}; "
        f"claims over {args.seeds} seed(s) each; total {total_s:.0f} s. Regenerate with `python -m experiments{' --quick' if args.quick else ''}`.",
        "",
        f"{sum(r['held'] for r in records)} of {len(records)} claims held.",
        "",
        "| # | study | claim | measured | holds | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(records, 1):
        held = verdict(r)
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
            f"**Holds.** {verdict(r)}",
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
