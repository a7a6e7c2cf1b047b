"""The record every benchmark writes: its schema, how it is made, checked and normalized.

Record schema (one JSON object per measurement; :func:`validate_record` checks it)::

    bench                 str    which benchmark: "roofline", "step", "peers", "scaling",
                                 "manual_vs_autodiff", "loop", ...
    name                  str    the contender or variant within the bench ("funcnn", "haiku",
                                 "matmul_2048", ...)
    workload              dict   model (str), sizes (list[int] or None), batch (int or None),
                                 dtype (str), and anything else that defines the work
    device                dict   platform ("cpu", "gpu", "tpu"), device_kind, and the rest of
                                 funcnn.io.device_info() (count, host CPU, ...) with the XLA,
                                 JAX and thread-pool environment variables under "env"
                                 (results written before funcnn.io have n_devices for count)
    versions              dict   python and funcnn.io.CORE_PACKAGES (funcnn, jax, jaxlib,
                                 optax, chex, numpy), plus the libraries the record's
                                 contender uses
    median_s, min_s, max_s float seconds per call
    repeats               int    number of timed calls (>= 20; >= 1 where unit is "run")
    compile_s             float or None   compile time, measured apart (None: not compiled)
    flops                 float  (where it applies) floating-point operations per call
    flops_formula         str    how ``flops`` was counted
    achieved_flops_per_s  float  flops / median_s
    fraction_of_roofline  float  achieved_flops_per_s / the measured matmul roofline
    ratio                 float  (where it applies) median_s / the baseline's median_s, same run
    baseline              str    the name of the contender ``ratio`` is measured against
    unit                  str    (where it applies) "run": each repeat is a whole training run
                                 in a fresh process (time_to_accuracy), not a call

Scripts written elsewhere may return records with ``batch``, ``dtype``, ``sizes`` or ``model``
at the top level, or without ``device``/``versions``: :func:`normalize_record` moves and fills
them so every record in ``results.json`` has the schema above.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from benchmarks.timing import MIN_REPEATS, Timing
from funcnn import io

SCHEMA_VERSION = 1

REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "bench": (str,),
    "name": (str,),
    "workload": (dict,),
    "device": (dict,),
    "versions": (dict,),
    "median_s": (float,),
    "min_s": (float,),
    "max_s": (float,),
    "repeats": (int,),
    "compile_s": (float, type(None)),
}
"""Fields every record has, with their JSON types."""

WORKLOAD_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "sizes": (list, type(None)),
    "batch": (int, type(None)),
    "dtype": (str,),
}
"""Fields every ``record["workload"]`` has."""

OPTIONAL_FIELDS: dict[str, tuple[type, ...]] = {
    "flops": (float, int),
    "flops_formula": (str,),
    "achieved_flops_per_s": (float,),
    "fraction_of_roofline": (float,),
    "ratio": (float,),
    "baseline": (str,),
    "notes": (str,),
    "unit": (str,),
}
"""Fields a record has where they apply (``ratio`` always comes with ``baseline``)."""

ENV_PREFIXES = ("XLA_", "JAX_", "OPENBLAS", "OMP_", "MKL_", "TF_CPP", "CUDA_VISIBLE")
"""Environment variables that change what a benchmark measures; recorded with the device."""


# --- provenance ----------------------------------------------------------------------------


def versions(packages: Iterable[str] = ()) -> dict[str, str | None]:
    """Versions of Python, of funcnn's core libraries and of ``packages`` (None when absent)."""
    return io.versions(tuple(dict.fromkeys((*io.CORE_PACKAGES, *packages))))


def device_info() -> dict[str, Any]:
    """:func:`funcnn.io.device_info` and, under ``"env"``, the environment variables that
    steer XLA, JAX and the thread pools (:data:`ENV_PREFIXES`)."""
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)}
    return {**io.device_info(), "env": env}


def device_slug(device: Mapping[str, Any] | None = None) -> str:
    """A short file-name-safe name for the device: "cpu", "nvidia-h100-80gb-hbm3", ..."""
    device = device or device_info()
    if device["platform"] == "cpu":
        return "cpu"
    kind = str(device.get("device_kind") or device["platform"]).lower()
    slug = "".join(c if c.isalnum() else "-" for c in kind).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug or device["platform"]


def default_out_dir(suite: str, dtype: str, device: Mapping[str, Any] | None = None) -> str:
    """``benchmarks/results/<date>-<device>-<suite>[-<dtype>]``."""
    date = _dt.date.today().isoformat()
    name = f"{date}-{device_slug(device)}-{suite}"
    if dtype != "float32":
        name += f"-{dtype}"
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", name)


# --- making records ------------------------------------------------------------------------


def workload(
    model: str, sizes: Sequence[int] | None, batch: int | None, dtype: str, **extra
) -> dict[str, Any]:
    """The workload dict of a record."""
    return {
        "model": model,
        "sizes": None if sizes is None else [int(s) for s in sizes],
        "batch": None if batch is None else int(batch),
        "dtype": str(dtype),
        **extra,
    }


def make_record(
    bench: str,
    name: str,
    work: Mapping[str, Any],
    timing: Timing,
    *,
    compile_s: float | None,
    flops: float | None = None,
    flops_formula: str | None = None,
    roofline: float | None = None,
    ratio: float | None = None,
    baseline: str | None = None,
    device: Mapping[str, Any] | None = None,
    packages: Sequence[str] = (),
    **extra,
) -> dict[str, Any]:
    """A record with the schema of this module's docstring (validated before returning).

    ``device`` defaults to :func:`device_info`; ``packages`` are the libraries beyond funcnn's
    core whose versions the record carries (a peer's library). ``extra`` fields are added as
    they are, made JSON-able.
    """
    rec: dict[str, Any] = {
        "bench": bench,
        "name": name,
        "workload": dict(work),
        "device": dict(device or device_info()),
        "versions": versions(packages),
        **timing.fields(),
        "compile_s": None if compile_s is None else float(compile_s),
    }
    if flops is not None:
        rec["flops"] = float(flops)
        if flops_formula:
            rec["flops_formula"] = flops_formula
        rec["achieved_flops_per_s"] = float(flops) / timing.median
        if roofline:
            rec["fraction_of_roofline"] = rec["achieved_flops_per_s"] / float(roofline)
    if ratio is not None:
        if not baseline:
            raise ValueError("a record with a ratio needs the name of its baseline.")
        rec["ratio"] = float(ratio)
        rec["baseline"] = baseline
    rec.update(io.to_jsonable(extra))
    check_record(rec)
    return rec


# --- checking records ----------------------------------------------------------------------


def validate_record(rec: Any) -> list[str]:
    """Everything wrong with a record (empty list: it has the schema)."""
    if not isinstance(rec, Mapping):
        return [f"a record must be a dict; got {type(rec).__name__}."]
    problems = check_fields(rec, REQUIRED_FIELDS, "", required=True)
    problems += check_fields(rec, OPTIONAL_FIELDS, "", required=False)
    if isinstance(rec.get("workload"), Mapping):
        problems += check_fields(rec["workload"], WORKLOAD_FIELDS, "workload.", required=True)
    if isinstance(rec.get("device"), Mapping):
        for key in ("platform", "device_kind"):
            if not isinstance(rec["device"].get(key), str):
                problems.append(f"device.{key} must be a string.")
    floor = 1 if rec.get("unit") == "run" else MIN_REPEATS
    if isinstance(rec.get("repeats"), int) and rec["repeats"] < floor:
        problems.append(f"repeats must be >= {floor}; got {rec['repeats']}.")
    times = [rec.get(k) for k in ("min_s", "median_s", "max_s")]
    if all(isinstance(t, float) for t in times):
        if not all(math.isfinite(t) and t > 0 for t in times):
            problems.append(f"times must be finite and positive; got {times}.")
        elif not times[0] <= times[1] <= times[2]:
            problems.append(f"need min_s <= median_s <= max_s; got {times}.")
    if ("ratio" in rec) != ("baseline" in rec):
        problems.append("ratio and baseline come together.")
    if "fraction_of_roofline" in rec and "achieved_flops_per_s" not in rec:
        problems.append("fraction_of_roofline needs achieved_flops_per_s.")
    try:
        json.dumps(rec, allow_nan=False)
    except (TypeError, ValueError) as e:
        problems.append(f"not JSON-serializable: {e}.")
    return problems


def check_fields(
    container: Mapping, fields: Mapping[str, tuple[type, ...]], prefix: str, *, required: bool
) -> list[str]:
    """The problems of ``container``'s ``fields``: missing (where ``required``) or of another
    JSON type (a bool is not a number here)."""
    problems = []
    for key, types in fields.items():
        if key not in container:
            if required:
                problems.append(f"missing field {prefix}{key!r}.")
            continue
        v = container[key]
        if isinstance(v, bool) or not isinstance(v, types):
            want = " or ".join(t.__name__ for t in types)
            problems.append(f"{prefix}{key!r} must be {want}; got {type(v).__name__}.")
    return problems


def check_record(rec: Any) -> None:
    """Raise ``ValueError`` listing every schema problem of ``rec``."""
    problems = validate_record(rec)
    if problems:
        name = rec.get("bench", "?") if isinstance(rec, Mapping) else "?"
        raise ValueError(f"invalid benchmark record ({name}): " + " ".join(problems))


def normalize_record(rec: Mapping[str, Any], *, bench: str | None = None) -> dict[str, Any]:
    """Bring a record from another script to the schema: move loose workload keys into
    ``workload``, fill ``device``/``versions``/``compile_s``, coerce numbers to Python types."""
    out = io.to_jsonable(dict(rec))
    if bench is not None:
        out.setdefault("bench", bench)
    out.setdefault("name", str(out.get("bench", "?")))
    out["workload"] = normalize_workload(out)
    dev = out.get("device")
    if not isinstance(dev, Mapping):
        info = device_info()
        if isinstance(dev, str):
            info["reported_as"] = dev
        out["device"] = info
    if not isinstance(out.get("versions"), Mapping):
        out["versions"] = versions()
    out.setdefault("compile_s", None)
    for key in ("median_s", "min_s", "max_s", "compile_s", "ratio", "achieved_flops_per_s"):
        if isinstance(out.get(key), int) and not isinstance(out.get(key), bool):
            out[key] = float(out[key])
    if isinstance(out.get("repeats"), float) and out["repeats"].is_integer():
        out["repeats"] = int(out["repeats"])
    return out


def normalize_workload(out: dict[str, Any]) -> dict[str, Any]:
    """The ``workload`` of a JSON-able record, with the loose ``model``, ``sizes``, ``batch``
    and ``dtype`` keys moved out of ``out`` into it and the missing ones filled."""
    work = dict(out["workload"]) if isinstance(out.get("workload"), Mapping) else {}
    if isinstance(out.get("workload"), str):
        work.setdefault("model", out["workload"])
    for key in ("model", "sizes", "batch", "dtype"):
        if key in out and key not in work:
            work[key] = out.pop(key)
    work.setdefault("model", str(out.get("bench", "?")))
    work.setdefault("sizes", None)
    work.setdefault("batch", None)
    work.setdefault("dtype", "float32")
    if work.get("dtype") is not None:
        work["dtype"] = str(work["dtype"])
    return work


# --- a benchmark run as a script -----------------------------------------------------------


def script_main(
    run: Callable[..., list[dict]],
    description: str,
    argv: Sequence[str] | None = None,
    *,
    full_help: str = "the full configuration",
) -> int:
    """``python benchmarks/bench_<name>.py [--full] [--json]``: ``run(quick=not --full)``,
    its records printed as JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--full", action="store_true", help=full_help)
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    args = parser.parse_args(argv)
    records = run(quick=not args.full)
    if args.json:
        print(json.dumps(records, indent=1))
    return 0
