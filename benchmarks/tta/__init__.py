"""The training scripts of the time-to-accuracy benchmark, one module per implementation.

Each module (``engine`` for funcnn, ``flax``, ``equinox``, ``torch``, ``sklearn``) has
``PACKAGES`` (the distributions whose versions its records carry), ``IMPORTS`` (the
modules the worker imports before starting the clock) and ``train(task, data, t0) -> result`` (see
:mod:`benchmarks.tta.common`); :mod:`benchmarks.tta.worker` runs one in a fresh process. The
harness is :mod:`benchmarks.bench_time_to_accuracy`. A peer's module imports only its own
library (and NumPy): its process pays for nothing else.
"""
