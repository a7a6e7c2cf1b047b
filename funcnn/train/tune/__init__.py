"""Choose a model's recipe on a validation split; report the choice's test accuracy once.

:func:`tune` searches a model's :class:`Space` (the table :data:`SPACES`, one per model and
budget): the product of its *static* axes (architecture, dropout, augmentation, epochs:
whatever changes the compiled program) makes the groups; inside each group one continuous
hyperparameter (``lr`` or ``weight_decay``) times the seeds trains as one vmapped program
(:func:`funcnn.train.fit_seeds` with ``grid=``). Every run trains on the training set less a
validation split carved from it (``val_fraction``, 10% by default: 400 of MNIST-1D's 4,000
sequences) and is scored on that split only: the search never sees the test split (it is not
even passed to the engine). The point with the best mean validation accuracy over the seeds
wins (ties: lower mean validation loss, then the earlier point). Then, once, the chosen
recipe trains on the whole training set for seeds 0-3 and its test accuracy is reported with
the per-seed spread.

A point is the model's recipe (:data:`~funcnn.train.RECIPES`) with the space's fixed settings
(``Space.run``, ``Space.model``), then the group's settings and the grid value, over it. A grid value whose
run diverges (a NaN or infinite training loss) is recorded as diverged and the rest of its
group trains again without it.

The spaces (``funcnn tune --model NAME --budget full|quick|tiny``):

* ``mlp``: dropout {0, 0.1, 0.3} x augmentation {none, shift 8, shift 16 (each with scale
  0.2 and noise 0.05)} x 120 epochs, grid lr {3e-3, 7e-3, 1.5e-2}, seeds 0-1, over the
  recipe's 256-256 ReLU MLP, AdamW (weight decay 0.05), cosine decay and batch 128 (27
  points, 54 runs). An MLP does not know that neighbouring samples are neighbours, so
  shifted, scaled and noised copies of a training sequence are new examples to it
  (MNIST-1D's generator makes its sequences by exactly these transformations). ``quick``:
  dropout 0.1 only (9 points).
* ``cnn``: dropout {0.1, 0.2} x label smoothing {0, 0.1} x augmentation {none, MNIST-1D's}
  x 60 epochs, grid lr {3e-3, 6e-3, 1e-2}, seeds 0-2 (contains the recipe: dropout 0.2,
  label smoothing 0.1, MNIST-1D's augmentation, lr 6e-3). ``quick``: the recipe's group
  and the one without augmentation, 30 epochs, seeds 0-1.
* ``gru``/``rnn``: hidden size {64, 96} x chunk {2, 4} x 60 epochs, grid weight decay
  {0.003, 0.01, 0.03}, seeds 0-2 (contains the recipe: 96 units, chunk 2, weight decay
  0.01). ``quick``: 96 units, chunks {2, 4}, 30 epochs, seeds 0-1. The full cnn and gru
  searches (72 and 36 runs of 60 epochs) have not been run on 2 CPU cores; their recipes
  came from an earlier search on a validation split, whose points these spaces contain.
* ``logistic_regression``, ``softmax_regression``: grid lr {1e-3, 7e-3, 3e-2} over their
  recipe, seeds 0-2.
* ``linear_regression`` (on a regression dataset, e.g. ``--dataset diabetes``): weight decay
  {0, 0.05} x grid lr {1, 3, 10, 30}, seeds 0-2.
* ``tiny`` (every model): one small group, two epochs, two grid values, two seeds: checks
  that the command runs end to end in seconds; it chooses nothing worth keeping.
"""

from funcnn.train.tune.result import Point, TuneResult, format_table, recipe_source, write_result
from funcnn.train.tune.search import final_test, point_recipe, search, tune
from funcnn.train.tune.spaces import BUDGETS, FINAL_SEEDS, SPACES, Space, check_space, space_for

__all__ = [
    "BUDGETS",
    "FINAL_SEEDS",
    "Point",
    "SPACES",
    "Space",
    "TuneResult",
    "check_space",
    "final_test",
    "point_recipe",
    "format_table",
    "recipe_source",
    "search",
    "space_for",
    "tune",
    "write_result",
]
