"""One network's training step in every library of a registry: what gru_peers and cnn_peers
share (:mod:`benchmarks.bench_gru_peers`, :mod:`benchmarks.bench_cnn_peers`).

Every contender of the registry is built from funcnn's initial parameters on the same batch,
checked to give funcnn's losses and parameters (:func:`benchmarks.peers.check_contenders`),
then all are timed interleaved; ``ratio`` = the contender's median / funcnn's (the engine's
autodiff step; > 1: funcnn is faster) and ``ratio_to_manual`` = the contender's median /
``funcnn_manual``'s (the hand-written backward), both from the same run.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks import peers
from benchmarks.nets import net_workload, reference_init, sequence_batch
from benchmarks.records import device_info

MANUAL = "funcnn_manual"


def compare_net(
    bench: str,
    registry: dict,
    packages_of: dict,
    spec,
    batch: int,
    *,
    dtype: str,
    lr: float,
    budget_s: float,
    names: Sequence[str] | None = None,
    options: dict | None = None,
    progress: bool = True,
    fields: dict | None = None,
    **work,
) -> list[dict]:
    """Check and time every available contender of ``registry`` on ``spec``'s step.

    Args:
        bench: the records' bench name.
        registry, packages_of: name -> builder and name -> its packages
            (:func:`benchmarks.peers.discover`).
        spec: the network (a :class:`benchmarks.nets.GRUSpec` or ``CNNSpec``).
        batch, dtype, lr: the workload; ``options`` go to every builder (``weight_decay``).
        budget_s: seconds of interleaved timing.
        names: the contenders (default: all; funcnn always runs).
        fields: more fields of every record (``flops``, ``flops_formula``).
        work: more workload fields of the records (the optimizer).

    Returns:
        One record per contender that ran (funcnn's lists the skipped ones, and why, under
        ``skipped``).
    """
    device = device_info()
    x, y = sequence_batch(spec, batch, dtype)
    init = reference_init(spec, dtype)
    label = f"{spec.kind} {'-'.join(map(str, spec.sizes))} batch {batch}"
    contenders, skipped = peers.build_contenders(
        peers.contender_names(names, {}, registry),
        spec,
        init,
        x,
        y,
        dtype=dtype,
        lr=lr,
        label=label,
        progress=progress,
        registry=registry,
        options=options,
    )
    checks, per_call = peers.check_contenders(contenders, dtype=dtype, lr=lr, label=label)
    timings, cooldown_s = peers.time_contenders(contenders, per_call, budget_s)
    base, manual = timings[peers.BASELINE], timings.get(MANUAL)
    workload = net_workload(spec, batch, dtype, part="step", lr=lr, **work)
    records = []
    for name, c in contenders.items():
        t = timings[name]
        extra = dict(fields or {})
        if manual is not None:
            extra["ratio_to_manual"] = t.median / manual.median
        rec = peers.peer_record(
            bench,
            name,
            c,
            workload,
            t,
            base,
            same_work=checks[name],
            cooldown_s=cooldown_s,
            device=device,
            packages=packages_of[name],
            **extra,
        )
        records.append(rec)
        print(
            f"[{bench}] {label} {dtype}: {name:14s} {t.median * 1e3:8.3f} ms  "
            f"{rec['ratio']:5.2f}x funcnn"
        )
    if skipped:
        records[0]["skipped"] = skipped
    return records
