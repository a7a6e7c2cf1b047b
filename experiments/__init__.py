"""One script per study of the notes; ``python -m experiments`` runs them and writes a report."""

#: Every study, in the order of the report (module names in this package).
STUDIES = [
    "linear_regression",
    "polynomial_fit",
    "weight_decay",
    "cross_validation",
    "softmax_regression",
    "mlp_activations",
    "init_and_depth",
    "dropout",
    "universal_approximation",
    "perceptron",
    "single_neuron",
    "attention_pooling",
    "deep_linear",
    "lr_schedules",
    "sgd_vs_batch",
    "manual_vs_autodiff",
    "mnist1d_table",
    "convolution",
    "gradients_through_time",
]
