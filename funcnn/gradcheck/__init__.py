"""Check hand-written gradients against ``jax.grad`` and central finite differences.

Point it at your own gradient function::

    report = funcnn.gradcheck.check_grads(my_grad, loss, params, x, y)
    print(report)            # one row per leaf of params
    assert report.passed

Where things live:

* :mod:`~funcnn.gradcheck.compare` — the error measure (relative error with a floor, module
  docstring there) and the leaf-by-leaf comparison of two gradient pytrees; a leaf present on
  one side only, or with different shapes, is a *structure mismatch*: a failing row, never an
  exception.
* :mod:`~funcnn.gradcheck.finite_differences` — float64 central differences on sampled
  coordinates, with their own rounding level as a floor.
* :mod:`~funcnn.gradcheck.check` — :func:`check_grads` / :func:`check_many`: the manual
  gradient, ``jax.grad`` and the differences in one compiled program; the verdict per leaf is
  ``max_rel_err <= rtol`` against autodiff and ``<= fd_rtol`` against the differences.
* :mod:`~funcnn.gradcheck.report` — rows and the printed table.
* :mod:`~funcnn.gradcheck.kinks` — moving ReLU / step pre-activations off their kinks, where
  finite differences are meaningless.
* :mod:`~funcnn.gradcheck.cases` — the table of every model x activation x loss that
  ``funcnn gradcheck`` runs (:data:`CASES`), and how to run them.
"""

from funcnn.gradcheck.case import Case
from funcnn.gradcheck.cases import (
    CASES,
    COLUMNS,
    MLP_SIZES,
    build_case,
    cases,
    groups,
    hash_name,
    model_build,
    model_case,
    model_case_data,
    run_case,
    run_cases,
)
from funcnn.gradcheck.check import GradCheck, check_grads, check_many, compile_once
from funcnn.gradcheck.compare import (
    DEFAULT_FLOOR_FRAC,
    TOLERANCES,
    LeafComparison,
    compare_grads,
    leaf_floor,
    relative_error,
)
from funcnn.gradcheck.draws import BATCH, Draws, nontrivial_params
from funcnn.gradcheck.finite_differences import (
    compare_with_finite_differences,
    fd_noise,
    finite_difference_grads,
)
from funcnn.gradcheck.kinks import KINKED_ACTIVATIONS, min_kink_distance, move_off_kinks
from funcnn.gradcheck.report import REPORT_COLUMNS, GradcheckReport, GradcheckRow, format_table

__all__ = [
    "BATCH",
    "CASES",
    "COLUMNS",
    "Case",
    "DEFAULT_FLOOR_FRAC",
    "Draws",
    "GradCheck",
    "GradcheckReport",
    "GradcheckRow",
    "KINKED_ACTIVATIONS",
    "LeafComparison",
    "MLP_SIZES",
    "REPORT_COLUMNS",
    "TOLERANCES",
    "build_case",
    "cases",
    "check_grads",
    "check_many",
    "compare_grads",
    "compare_with_finite_differences",
    "compile_once",
    "fd_noise",
    "finite_difference_grads",
    "format_table",
    "groups",
    "hash_name",
    "leaf_floor",
    "min_kink_distance",
    "model_build",
    "model_case",
    "model_case_data",
    "move_off_kinks",
    "nontrivial_params",
    "relative_error",
    "run_case",
    "run_cases",
]
