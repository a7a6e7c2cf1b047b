"""Every dense model of the notes as a pure ``init`` / ``apply`` pair.

All of them are *serial dense networks*: a stack of layers ``z_j = sigma_j(z_{j-1} @ w_j + b_j)``
(the math paper's eq. 1, the lecture's ``z_j = sigma_j(W_j z_{j-1})``) that differ only in
their sizes and activations:

======================  ===================  ==========================================
model                   sizes                activations (hidden / output)
======================  ===================  ==========================================
perceptron              (n_in, 1)            - / heaviside (threshold as bias, init 0)
single_neuron           (n_in, 1)            - / sigmoid (the blog's neuron)
logistic_regression     (n_in, 1)            - / identity: logits; p = sigmoid(logits)
linear_regression       (n_in, n_out)        - / identity: y_hat = X w + b
softmax_regression      (n_in, n_classes)    - / identity: logits o = X W + b
mlp                     (n_0, ..., n_L)      any / any, dropout, any initializer
deep_linear             (n_0, ..., n_L)      identity / identity
======================  ===================  ==========================================

A model is a frozen, hashable configuration object (:class:`MLP`) with two pure methods:

* ``model.init(key) -> params``: a list of dense layers ``[{"w": (n_{j-1}, n_j), "b": (n_j,)}]``,
* ``model.apply(params, x, *, key=None, train=False) -> y``: ``x: (batch, n_0) -> (batch, n_L)``.

Classification models output logits; pair them with ``softmax_cross_entropy`` or
``binary_cross_entropy`` (which take logits) and turn them into probabilities with
``funcnn.softmax`` or ``funcnn.sigmoid``. Because the model is hashable it can be passed to
``jax.jit`` as a static argument, or closed over.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import ACTIVATIONS
from funcnn.blocks import Act, Dense, Dropout, Serial
from funcnn.initializers import INITIALIZERS

Array = jnp.ndarray
Params = list  # list[dict[str, Array]]

_RELU_LIKE = {"relu", "leaky_relu", "gelu"}


@dataclasses.dataclass(frozen=True)
class MLP:
    """A serial dense network; see the module docstring for the models it covers.

    It is the composition (:class:`funcnn.blocks.Serial`, attribute :attr:`serial`)
    ``Dense(n_0, n_1), Act(sigma_1), [Dropout(p_1)], ..., Dense(n_{L-1}, n_L), Act(sigma_L)``
    — with a Dropout block after every hidden activation when any rate is positive — and
    delegates ``init``/``apply`` to it; this class keeps the notes' vocabulary (sizes, layer
    activations) on top.

    Attributes:
        sizes: layer widths ``(n_0, n_1, ..., n_L)``; ``n_0`` is the input size.
        activations: one activation name per hidden layer (``L - 1`` of them).
        output_activation: activation of the last layer ("identity" for logits/regression).
        dropout: drop probability after each hidden layer's activation (``L - 1`` of them).
        initializer: weight initializer name; biases start at zero.
        init_std: standard deviation for ``initializer="normal"`` (scale for "uniform").
        kind: which model of the notes this is (used in names, reports and ``funcnn.backprop``).
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    output_activation: str = "identity"
    dropout: tuple[float, ...] = ()
    initializer: str = "xavier_normal"
    init_std: float | None = None
    kind: str = "mlp"

    def __post_init__(self):
        sizes = checks.check_sizes(self.sizes)
        n_hidden = len(sizes) - 2
        if len(self.activations) != n_hidden:
            raise ValueError(
                f"activations must name one activation per hidden layer ({n_hidden} for sizes "
                f"{sizes}); got {self.activations!r}."
            )
        for a in (*self.activations, self.output_activation):
            checks.check_choice(a, ACTIVATIONS, "activation")
        dropout = tuple(self.dropout) if self.dropout else (0.0,) * n_hidden
        if len(dropout) != n_hidden:
            raise ValueError(
                f"dropout must give one rate per hidden layer ({n_hidden}); got {self.dropout!r}."
            )
        for i, r in enumerate(dropout):
            checks.check_rate(r, f"dropout[{i}]")
        checks.check_choice(self.initializer, INITIALIZERS, "initializer")
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "activations", tuple(self.activations))
        object.__setattr__(self, "dropout", tuple(float(r) for r in dropout))

    # -- structure -------------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """Number of dense layers L (the lecture's J)."""
        return len(self.sizes) - 1

    @property
    def layer_activations(self) -> tuple[str, ...]:
        """The activation of each of the L layers, output layer last."""
        return (*self.activations, self.output_activation)

    @property
    def uses_dropout(self) -> bool:
        return any(r > 0 for r in self.dropout)

    @functools.cached_property
    def serial(self) -> Serial:
        """This network as a composition of Dense, Act and Dropout blocks."""
        blocks = []
        for j, act in enumerate(self.layer_activations):
            blocks.append(Dense(self.sizes[j], self.sizes[j + 1], self.initializer, self.init_std))
            blocks.append(Act(act))
            if j < self.n_layers - 1 and self.uses_dropout:
                blocks.append(Dropout(self.dropout[j]))
        return Serial(tuple(blocks), (self.sizes[0],), self.kind)

    @property
    def blocks(self) -> tuple:
        return self.serial.blocks

    # -- the model interface (the engine relies on it) ---------------------------------------

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example: ``(n_0,)``."""
        return (self.sizes[0],)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one output: ``(n_L,)``."""
        return (self.sizes[-1],)

    @property
    def stochastic(self) -> bool:
        """Whether ``apply(..., train=True)`` draws random numbers (and so needs ``key=``)."""
        return self.uses_dropout

    has_params = True
    consumes_key = property(lambda self: self.serial.consumes_key)

    def out_shape(self, shape) -> tuple[int, ...]:
        return self.serial.out_shape(shape)

    def to_config(self) -> dict:
        """A JSON-able description of this model (recorded in metrics and checkpoints)."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }

    # -- init / apply ----------------------------------------------------------------------

    def init(self, key, dtype=jnp.float32) -> Params:
        """``[{"w": (n_{j-1}, n_j), "b": (n_j,)} for j = 1..L]``, one key per layer."""
        return self.serial.init(key, dtype)

    def check_params(self, params: Params, name: str = "params") -> None:
        """Raise ``ValueError`` unless ``params`` has this model's structure and shapes."""
        self.serial.check_params(params, name)

    def check_input(self, x: Array, name: str = "x") -> None:
        self.serial.check_input(x, name)

    def dropout_masks(self, key, batch: int, dtype=jnp.float32) -> list[Array | None]:
        """The inverted-dropout masks of one training forward pass, ``None`` where rate = 0.

        Layer j's mask is drawn from ``fold_in(key, j)`` (the j-th Dropout block's key), so
        ``funcnn.backprop`` reproduces exactly the masks ``apply`` used from the same key.
        """
        return [
            Dropout(rate).mask(jax.random.fold_in(key, j), (batch, n), dtype)
            for j, (rate, n) in enumerate(zip(self.dropout, self.sizes[1:-1]))
        ]

    def apply(self, params: Params, x: Array, *, key=None, train: bool = False) -> Array:
        """Forward pass z_j = sigma_j(z_{j-1} @ w_j + b_j), j = 1..L, with z_0 = x.

        Args:
            params: from :meth:`init`.
            x: ``(batch, n_0)``.
            key: dropout key; required when ``train`` is True and the model has dropout.
            train: apply dropout (inverted scaling) after each hidden activation.

        Returns:
            ``(batch, n_L)``: logits or regression outputs (after ``output_activation``).
        """
        return self.serial.apply(params, x, key=key, train=train)

    def __call__(self, params: Params, x: Array, **kwargs) -> Array:
        return self.apply(params, x, **kwargs)


# --- factories ----------------------------------------------------------------------------


def _default_initializer(activations: Sequence[str]) -> str:
    """He for ReLU-like hidden layers, Xavier otherwise (the matched schemes)."""
    if activations and all(a in _RELU_LIKE for a in activations):
        return "he_normal"
    return "xavier_normal"


def mlp(
    sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    *,
    output_activation: str = "identity",
    dropout: float | Sequence[float] = 0.0,
    initializer: str | None = None,
    init_std: float | None = None,
) -> MLP:
    """A multilayer perceptron with layer sizes ``(n_0, ..., n_L)``.

    Args:
        sizes: input size, hidden widths, output size.
        activation: one name for every hidden layer, or one per hidden layer.
        output_activation: "identity" (logits / regression) or any activation name.
        dropout: drop probability after every hidden layer, or one per hidden layer.
        initializer: weight scheme; default He normal for ReLU-like activations, Xavier
            normal otherwise.
        init_std: std of the "normal" scheme (or scale of "uniform").

    Example:
        >>> import jax
        >>> net = mlp([40, 256, 256, 10], "relu", dropout=0.2)
        >>> params = net.init(jax.random.key(0))
        >>> x = jax.numpy.ones((8, 40))
        >>> net.apply(params, x).shape                                     # evaluation
        (8, 10)
        >>> net.apply(params, x, key=jax.random.key(1), train=True).shape  # with dropout
        (8, 10)
    """
    sizes = checks.check_sizes(sizes)
    n_hidden = len(sizes) - 2
    acts = (activation,) * n_hidden if isinstance(activation, str) else tuple(activation)
    rates = (dropout,) * n_hidden if isinstance(dropout, (int, float)) else tuple(dropout)
    init = initializer or _default_initializer(acts)
    return MLP(sizes, acts, output_activation, rates, init, init_std, "mlp")


def deep_linear(sizes: Sequence[int], *, initializer: str = "xavier_normal", init_std=None) -> MLP:
    """A deep linear network: the MLP with identity activations (the lecture)."""
    sizes = checks.check_sizes(sizes)
    acts = ("identity",) * (len(sizes) - 2)
    return MLP(sizes, acts, "identity", (), initializer, init_std, "deep_linear")


def _one_layer(kind: str, n_in: int, n_out: int, out_act: str, initializer: str, init_std) -> MLP:
    checks.check_positive_int(n_in, "n_in")
    checks.check_positive_int(n_out, "n_out")
    return MLP((n_in, n_out), (), out_act, (), initializer, init_std, kind)


def linear_regression(n_in: int, n_out: int = 1, *, initializer="normal", init_std=0.01) -> MLP:
    """y_hat = X w + b (the digest, eq. 5); w ~ N(0, 0.01^2), b = 0 as in the digest's setup."""
    return _one_layer("linear_regression", n_in, n_out, "identity", initializer, init_std)


def softmax_regression(n_in: int, n_classes: int, *, initializer="normal", init_std=0.01) -> MLP:
    """Logits o = X W + b; probabilities softmax(o) (the digest, section 4)."""
    return _one_layer("softmax_regression", n_in, n_classes, "identity", initializer, init_std)


def logistic_regression(n_in: int, *, initializer="normal", init_std=0.01) -> MLP:
    """Logits o = X w + b of one neuron; p(y = 1 | x) = sigmoid(o). Train with
    ``binary_cross_entropy`` (from logits)."""
    return _one_layer("logistic_regression", n_in, 1, "identity", initializer, init_std)


def single_neuron(
    n_in: int, activation: str = "sigmoid", *, initializer="normal", init_std=0.01
) -> MLP:
    """The blog's single neuron y_hat = sigma(w^T x + b), output in (0, 1) for sigmoid.
    The blog trains it with the squared loss."""
    return _one_layer("single_neuron", n_in, 1, activation, initializer, init_std)


def perceptron(n_in: int) -> MLP:
    """The perceptron (the math paper, section 1; the lecture): y_hat = 1 if w.x + b >= 0 else 0.

    The threshold is the bias with opposite sign (w.x >= theta  <=>  w.x + b >= 0, b = -theta).
    Weights start at zero, as in the classic learning rule (:func:`perceptron_update`).
    """
    return _one_layer("perceptron", n_in, 1, "heaviside", "zeros", None)


# --- the perceptron learning rule -----------------------------------------------------------


def perceptron_update(params: Params, x: Array, y: Array, lr: float = 1.0) -> tuple[Params, Array]:
    """One step of Rosenblatt's rule on one example: w <- w + lr (y - y_hat) x, b <- b + lr (y - y_hat).

    Args:
        params: ``[{"w": (n_in, 1), "b": (1,)}]`` of :func:`perceptron`.
        x: one example ``(n_in,)``.
        y: its label, 0 or 1 (scalar).

    Returns:
        ``(new_params, mistake)`` with ``mistake`` = 1 if the example was misclassified.
    """
    checks.check_rank(x, 1, "x", "(n_in,) — one example")
    checks.check_rank(y, 0, "y", "() — one label in {0, 1}")
    w, b = params[0]["w"], params[0]["b"]
    if w.shape != (x.shape[0], 1):
        raise ValueError(
            f"x must have {w.shape[0]} features for params['w'] of shape {w.shape}; got {x.shape}."
        )
    y_hat = (x @ w[:, 0] + b[0] >= 0).astype(w.dtype)
    err = y.astype(w.dtype) - y_hat  # in {-1, 0, 1}
    new = [{"w": w + lr * err * x[:, None], "b": b + lr * err}]
    return new, (err != 0).astype(jnp.int32)


def perceptron_epoch(params: Params, x: Array, y: Array, lr: float = 1.0) -> tuple[Params, Array]:
    """One pass of the perceptron rule over ``x: (n, n_in)``, ``y: (n,)`` in order, as a
    ``jax.lax.scan``. Returns the new params and the number of mistakes made in the pass
    (zero mistakes means the data are separated)."""
    checks.check_rank(x, 2, "x", "(n, n_in)")
    checks.check_rank(y, 1, "y", "(n,) labels in {0, 1}")
    checks.check_same_batch(x, y, "x", "y")

    def step(p, xy):
        return perceptron_update(p, xy[0], xy[1], lr)

    params, mistakes = jax.lax.scan(step, params, (x, y))
    return params, jnp.sum(mistakes)


MODELS = {
    "perceptron": perceptron,
    "single_neuron": single_neuron,
    "logistic_regression": logistic_regression,
    "linear_regression": linear_regression,
    "softmax_regression": softmax_regression,
    "mlp": mlp,
    "deep_linear": deep_linear,
}
