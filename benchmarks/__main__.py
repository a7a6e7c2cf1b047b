"""Run funcnn's benchmark suite and write results.json, RESULTS.md and plots.

Usage::

    python -m benchmarks                          # quick suite, float32, all benchmarks
    python -m benchmarks --suite full --dtype bfloat16 --out benchmarks/results/my-gpu
    python -m benchmarks --only roofline step     # a subset
    python -m benchmarks --list                   # what there is

The quick suite takes a few minutes on 2 CPU cores (conv_rnn's autodiff CNN epoch, whose
weight-gradient convolution is slow inside a scan on a CPU, is its longest part); the full
suite is for a real machine (larger steps, longer timings, ``torch.compile``).
``--suite smoke`` runs every benchmark of this package on tiny sizes (numbers meaningless;
for checking the machinery). ``time_to_accuracy`` (wall-clock time to a test accuracy,
funcnn's engine against training scripts in the peer libraries, each in a fresh process)
runs only when named: ``python -m benchmarks --only time_to_accuracy [--suite full]``.
The default output directory is ``benchmarks/results/<date>-<device>-<suite>[-<dtype>]/``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import inspect
import os
import sys
import time
import traceback
from collections.abc import Sequence

from benchmarks import records, report
from benchmarks.peers import PACKAGES as PEER_PACKAGES
from benchmarks.workloads import DTYPES
from funcnn import compile_cache
from funcnn.io import write_json

BENCHES = {
    "roofline": "benchmarks.bench_roofline",
    "step": "benchmarks.bench_step",
    "manual_vs_autodiff": "benchmarks.bench_manual_vs_autodiff",
    "conv_rnn": "benchmarks.bench_conv_rnn",
    "loop": "benchmarks.bench_loop",
    "peers": "benchmarks.peers",
    "gru_peers": "benchmarks.bench_gru_peers",
    "cnn_peers": "benchmarks.bench_cnn_peers",
    "scaling": "benchmarks.bench_scaling",
    "cnn_scaling": "benchmarks.bench_cnn_scaling",
    "time_to_accuracy": "benchmarks.bench_time_to_accuracy",
}
"""Benchmark name -> module exposing ``run(quick: bool, ...) -> list[dict]``, in run order."""
OPT_IN = ("time_to_accuracy",)
"""Benchmarks that run only when ``--only`` names them: each trains whole models to a target
accuracy, many times, in fresh processes (minutes to hours)."""

SUITES = ("quick", "full", "smoke")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="funcnn's jit benchmarks: roofline, training step, manual backward vs "
        "autodiff (MLP, CNN, GRU), on-device loop, peers (MLP, GRU, CNN), scaling (MLP, CNN).",
    )
    parser.add_argument(
        "--suite",
        choices=SUITES,
        default="quick",
        help="quick: a few minutes on 2 CPU cores (default); full: for a real machine; smoke: tiny "
        "sizes, checks the machinery only",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="output directory (default benchmarks/results/<date>-<device>-<suite>)",
    )
    parser.add_argument(
        "--dtype", choices=DTYPES, default="float32", help="dtype of params and data"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        default=None,
        help=f"run only these: {', '.join(BENCHES)} (default: all but {', '.join(OPT_IN)})",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="never use JAX's persistent compilation cache (on by default only for the "
        "untimed smoke suite; also: FUNCNN_COMPILE_CACHE=off)",
    )
    args = parser.parse_args(argv)
    if args.only:
        unknown = [n for n in args.only if n not in BENCHES]
        if unknown:
            parser.error(f"--only: unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")
    return args


def _load_avg() -> list[float] | None:
    """The host's 1, 5 and 15 minute load averages (other work competing for the cores)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _call_run(module, name: str, args, roofline: tuple | None) -> list[dict]:
    """Call ``module.run`` with what it accepts: always ``quick``; ``dtype``, ``config``,
    ``roofline`` (median-based and best-call rates, when measured) and ``progress`` when its
    signature has them."""
    params = inspect.signature(module.run).parameters
    kwargs = {}
    if "dtype" in params:
        kwargs["dtype"] = args.dtype
    elif args.dtype != "float32":
        print(f"[{name}] runs in its own dtype: its run() takes no dtype (asked for {args.dtype})")
    if "roofline" in params and roofline is not None:
        kwargs["roofline"] = roofline[0]
        if "roofline_best" in params:
            kwargs["roofline_best"] = roofline[1]
    if "progress" in params:
        kwargs["progress"] = not args.no_progress
    if args.suite == "smoke":
        if "config" in params and hasattr(module, "SMOKE"):
            kwargs["config"] = module.SMOKE
        else:
            print(f"[{name}] has no smoke configuration: running its quick suite")
    return list(module.run(quick=args.suite != "full", **kwargs))


def new_results(args: argparse.Namespace, device: dict) -> dict:
    """The results dict of a run before any benchmark: what ran where, with which versions."""
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    return {
        "schema_version": records.SCHEMA_VERSION,
        "suite": args.suite,
        "dtype": args.dtype,
        "command": command.strip(),
        "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "wall_s": 0.0,
        "device": device,
        "versions": records.versions(PEER_PACKAGES),
        "load_avg_start": _load_avg(),
        "benches": {},
        "records": [],
        "invalid_records": [],
    }


def run_bench(name: str, args, roofline: tuple | None, results: dict) -> bool:
    """Run benchmark ``name``, adding its valid records (and the others, with their problems)
    and its status to ``results``; False where it failed or wrote invalid records."""
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(BENCHES[name])
    except ImportError as e:
        reason = f"not available: {e}"
        print(f"[{name}] skipped: {reason}")
        results["benches"][name] = {"status": "skipped", "reason": reason, "seconds": 0.0}
        return True
    status: dict = {"status": "ok"}
    try:
        recs = _call_run(module, name, args, roofline)
    except Exception as e:  # one broken benchmark must not lose the others' results
        traceback.print_exc()
        status = {"status": "error", "reason": f"{type(e).__name__}: {e}"[:500]}
        recs = []
    good = 0
    for rec in recs:
        rec = records.normalize_record(rec, bench=name)
        problems = records.validate_record(rec)
        if problems:
            print(f"[{name}] record {rec.get('name')!r} does not fit the schema: {problems}")
            results["invalid_records"].append({"record": rec, "problems": problems})
            status = {"status": "invalid records", "reason": "; ".join(problems)[:500]}
        else:
            results["records"].append(rec)
            good += 1
    results["benches"][name] = {**status, "seconds": time.perf_counter() - t0, "records": good}
    return status["status"] == "ok"


def run_suite(args: argparse.Namespace) -> tuple[dict, int]:
    """Run the selected benchmarks; returns the results dict (also written) and an exit code."""
    from benchmarks import bench_roofline

    device = records.device_info()
    out_dir = args.out or records.default_out_dir(args.suite, args.dtype, device)
    results_json = os.path.join(out_dir, "results.json")
    t_start = time.perf_counter()
    results = new_results(args, device)
    # Timed suites compile cold; the smoke suite (numbers meaningless) reuses compilations.
    if args.no_compile_cache:
        results["compile_cache"] = compile_cache.disable("--no-compile-cache")
    else:
        results["compile_cache"] = compile_cache.enable(default=args.suite == "smoke")
    print(
        f"[benchmarks] {args.suite} suite, {args.dtype}, on {device['platform']} / "
        f"{device['device_kind']}; writing to {out_dir}"
    )
    load = results["load_avg_start"]
    if load and device["platform"] == "cpu" and load[0] > (os.cpu_count() or 1):
        print(
            f"[benchmarks] warning: the host is busy (load average {load[0]} on "
            f"{os.cpu_count()} cores): CPU timings will be slow and noisy"
        )
    selected = args.only or [n for n in BENCHES if n not in OPT_IN]
    failed = False
    roofline = None
    for name in (n for n in BENCHES if n in selected):
        failed |= not run_bench(name, args, roofline, results)
        if name == "roofline":
            rates = (
                bench_roofline.roofline_from(results["records"], args.dtype),
                bench_roofline.roofline_best_from(results["records"], args.dtype),
            )
            roofline = rates if rates[0] else None
        results["wall_s"] = time.perf_counter() - t_start
        write_json(results_json, results, indent=1)
    results["wall_s"] = time.perf_counter() - t_start
    results["load_avg_end"] = _load_avg()
    write_json(results_json, results, indent=1)
    written = report.write_report(out_dir, results)
    print(
        f"[benchmarks] done in {results['wall_s']:.0f} s: {results_json}, "
        f"{', '.join(os.path.basename(p) for p in written.values())}"
    )
    return results, 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = None if argv is None else list(argv)
    if args.list:
        for name, mod in BENCHES.items():
            print(f"{name:20s} {mod}" + ("  (only with --only)" if name in OPT_IN else ""))
        return 0
    _, code = run_suite(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
