"""funcnn's benchmark suite: ``python -m benchmarks [--suite quick|full] [--out DIR] ...``.

One module per question, each exposing ``run(quick: bool, ...) -> list[dict]`` of records:
``bench_roofline``, ``bench_step``, ``bench_manual_vs_autodiff``, ``bench_conv_rnn`` (manual
vs autodiff for the CNN and the GRU: step, scanned epoch, XLA memory), ``bench_loop``,
``peers`` (a package: one module per library family), ``bench_gru_peers`` and
``bench_cnn_peers`` (the GRU's and the CNN's step in those libraries, through
:mod:`benchmarks.net_peers`), ``bench_scaling`` and ``bench_cnn_scaling`` (step time against
size and batch, MLP and CNN). They share

* :mod:`benchmarks.timing`: compile apart, warm up, block, interleave, medians;
* :mod:`benchmarks.same_work`: the check that compared contenders compute the same values;
* :mod:`benchmarks.workloads`: the MLP workload, its FLOP counts and funcnn's step;
  :mod:`benchmarks.nets`: the CNN and GRU workloads;
* :mod:`benchmarks.records`: the record schema, with the provenance of :mod:`funcnn.io`.

:mod:`benchmarks.__main__` runs them and :mod:`benchmarks.report` writes ``results.json``,
``RESULTS.md`` (tables from :mod:`benchmarks.tables`, targets from :mod:`benchmarks.targets`,
the CNN and GRU sections from :mod:`benchmarks.report_conv_rnn`)
and the plots of :mod:`benchmarks.plots`.
"""
