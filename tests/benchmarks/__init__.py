"""Tests of the benchmark suite's machinery, one module per benchmark module, on tiny sizes:
the numbers mean nothing here (speed is measured by ``python -m benchmarks``)."""
