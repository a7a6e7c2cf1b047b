"""funcnn's benchmark suite: ``python -m benchmarks [--suite quick|full] [--out DIR] ...``.

One script per question, each exposing ``run(quick: bool, ...) -> list[dict]`` of records
with the schema of :mod:`benchmarks.common`; :mod:`benchmarks.__main__` runs them and
:mod:`benchmarks.report` writes ``results.json``, ``RESULTS.md`` and the plots.
"""
