"""Training engine: optax optimizers and schedules, compiled steps, on-device epochs,
many seeds at once, data parallelism over devices, orbax checkpoints, and the
``train_and_evaluate`` of the ``funcnn train`` command.

Ten lines to train an MLP on MNIST-1D::

    import funcnn
    from funcnn.data import load
    from funcnn.train import fit

    data = load("mnist1d")
    net = funcnn.mlp([40, 256, 256, 10], "relu", dropout=0.3)
    result = fit(net, data, optimizer="adamw", lr=7e-3, weight_decay=0.05,
                 schedule="cosine", epochs=50)
    print(result.final["test_accuracy"])

Modules, each importing only those above it: ``state`` (the training state and its keys),
``optim`` (optimizers and schedules), ``sharding`` (device meshes), ``step`` (compiled
steps, epochs, evaluation), ``config`` (:class:`RunConfig`), ``inputs`` (data made ready
for a model), ``checkpoint``, ``loop`` (the epoch loop), ``fit``, ``seeds`` (``fit_seeds``),
``io`` (learning curves), ``registry`` (models by name and their recipes), ``job``
(``train_and_evaluate``).
"""

from funcnn.io import device_info, versions
from funcnn.train.checkpoint import Checkpointer
from funcnn.train.config import GRID_NAMES, RESUME_FREE, RunConfig
from funcnn.train.evaluate import evaluate, make_eval, make_eval_fn
from funcnn.train.fit import FitResult, fit, fit_sharded
from funcnn.train.inputs import infer_loss, prepare_targets
from funcnn.train.job import JobConfig, JobResult, train_and_evaluate
from funcnn.train.loop import NonFiniteLossError
from funcnn.train.optim import (
    OPTIMIZERS,
    SCHEDULES,
    build_optimizer,
    make_optimizer,
    make_schedule,
)
from funcnn.train.registry import MODELS, RECIPES, ModelEntry, Recipe, build_model
from funcnn.train.seeds import (
    SeedsResult,
    fit_seeds,
    init_states,
    make_vmapped_epoch,
    stack_runs,
)
from funcnn.train.sharding import make_mesh
from funcnn.train.state import TrainState, dropout_key, init_state, shuffle_key
from funcnn.train.step import (
    make_epoch,
    make_epoch_fn,
    make_objective,
    make_step_fn,
    make_train_step,
    make_value_and_grad,
)

__all__ = [
    "Checkpointer",
    "FitResult",
    "GRID_NAMES",
    "JobConfig",
    "JobResult",
    "MODELS",
    "ModelEntry",
    "NonFiniteLossError",
    "OPTIMIZERS",
    "RECIPES",
    "RESUME_FREE",
    "Recipe",
    "RunConfig",
    "SCHEDULES",
    "SeedsResult",
    "TrainState",
    "build_model",
    "build_optimizer",
    "device_info",
    "dropout_key",
    "evaluate",
    "fit",
    "fit_seeds",
    "fit_sharded",
    "infer_loss",
    "init_state",
    "init_states",
    "make_epoch",
    "make_epoch_fn",
    "make_eval",
    "make_eval_fn",
    "make_mesh",
    "make_objective",
    "make_optimizer",
    "make_schedule",
    "make_step_fn",
    "make_train_step",
    "make_value_and_grad",
    "make_vmapped_epoch",
    "prepare_targets",
    "shuffle_key",
    "stack_runs",
    "train_and_evaluate",
    "versions",
]
