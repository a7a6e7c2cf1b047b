"""Input validation shared by every public function.

All checks here look at *static* information (shapes, dtypes, Python values) and therefore
run at trace time: under ``jax.jit`` they cost nothing at run time. Checks of *values*
(finiteness, label ranges) run only on concrete arrays; under a trace they are either skipped
(labels, documented where it happens) or turned into a run-time error raised from a host
callback (``check_finite=True``).

Every error names the argument, the expectation and what was received, e.g.::

    ValueError: x must have rank 2 (batch, n_in); got shape (3,). Add a batch axis with x[None].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


def _shape(x) -> tuple[int, ...]:
    return tuple(np.shape(x))


def is_concrete(x) -> bool:
    """True when ``x`` holds values that can be inspected now (not a tracer)."""
    return not isinstance(x, jax.core.Tracer)


def check_array(x, name: str) -> None:
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(
            f"{name} must be an array (jax.Array or numpy.ndarray); got {type(x).__name__}."
        )


def check_rank(x, rank: int | Sequence[int], name: str, layout: str = "") -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is ``rank`` (or one of ``rank``)."""
    check_array(x, name)
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    if np.ndim(x) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        lay = f" {layout}" if layout else ""
        raise ValueError(f"{name} must have rank {want}{lay}; got shape {_shape(x)}.")


def check_floating(x, name: str) -> None:
    check_array(x, name)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{name} must have a floating dtype; got {x.dtype}. Cast with x.astype(jnp.float32)."
        )


def check_integer(x, name: str) -> None:
    check_array(x, name)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(
            f"{name} must hold integer class labels; got dtype {x.dtype}. "
            "Pass integer labels, or one-hot targets of shape (batch, n_classes)."
        )


def check_axis_size(x, axis: int, size: int, name: str, what: str) -> None:
    got = _shape(x)[axis]
    if got != size:
        raise ValueError(f"{name} must have {what} = {size} on axis {axis}; got shape {_shape(x)}.")


def check_same_shape(a, b, name_a: str, name_b: str) -> None:
    if _shape(a) != _shape(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape (nothing is broadcast); "
            f"got {name_a}{_shape(a)} and {name_b}{_shape(b)}."
        )


def check_batch(x, name: str) -> int:
    """Check that ``x`` has a non-empty leading batch axis; return the batch size."""
    check_array(x, name)
    if np.ndim(x) == 0:
        raise ValueError(f"{name} must have a leading batch axis; got a scalar.")
    n = _shape(x)[0]
    if n == 0:
        raise ValueError(
            f"{name} is an empty batch (shape {_shape(x)}); at least one example is needed."
        )
    return n


def check_same_batch(a, b, name_a: str, name_b: str) -> int:
    na, nb = check_batch(a, name_a), check_batch(b, name_b)
    if na != nb:
        raise ValueError(
            f"{name_a} and {name_b} must have the same batch size; got {name_a}.shape[0] = {na} "
            f"and {name_b}.shape[0] = {nb}."
        )
    return na


def check_positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{name} must be a positive integer; got {v!r}.")
    return int(v)


def check_sizes(sizes: Iterable[int], name: str = "sizes", min_len: int = 2) -> tuple[int, ...]:
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of layer sizes; got {sizes!r}.") from None
    if len(sizes) < min_len:
        raise ValueError(
            f"{name} must list at least {min_len} layer sizes (input, ..., output); got {sizes!r}."
        )
    for i, s in enumerate(sizes):
        check_positive_int(s, f"{name}[{i}]")
    return tuple(int(s) for s in sizes)


def check_rate(rate, name: str = "rate") -> float:
    if (
        isinstance(rate, bool)
        or not isinstance(rate, (int, float, np.floating))
        or not (0.0 <= rate < 1.0)
    ):
        raise ValueError(f"{name} must be a drop probability in [0, 1); got {rate!r}.")
    return float(rate)


def check_choice(value, choices: Iterable[str], name: str) -> str:
    choices = sorted(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid names are: {', '.join(choices)}.")
    return value


def check_labels(labels, n_classes: int, name: str = "labels") -> None:
    """Integer dtype always; value range only when ``labels`` is concrete (not under jit)."""
    check_integer(labels, name)
    if is_concrete(labels) and np.size(labels) > 0:
        lab = np.asarray(labels)
        lo, hi = int(lab.min()), int(lab.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{name} must lie in [0, {n_classes - 1}] for {n_classes} classes; found label {bad}."
            )


def _raise_nonfinite(ok, name):
    if not bool(ok):
        raise FloatingPointError(f"{name} contains NaN or infinite values.")


def check_finite(x, name: str) -> None:
    """Raise if ``x`` holds NaN or inf.

    On a concrete array this raises ``ValueError`` immediately. Under ``jit`` the check is
    compiled into the program as a host callback that raises when the values arrive, so the
    call fails (with this message inside the runtime error) instead of returning a NaN loss.
    """
    if is_concrete(x):
        if not np.all(np.isfinite(np.asarray(x))):
            raise ValueError(f"{name} contains NaN or infinite values.")
        return
    ok = jnp.all(jnp.isfinite(x))
    jax.debug.callback(_raise_nonfinite, ok, name)


def is_static_zero(value) -> bool:
    """True only for a Python (or NumPy) number equal to zero, ``0`` and ``0.0`` alike.

    A term whose coefficient is a static zero is left out of the compiled program; an array
    (possibly traced, e.g. a vmapped grid over the coefficient) is never treated as zero.
    """
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and value == 0
    )


def check_nonnegative(value, name: str, *, allow_none: bool = False):
    """A coefficient ``>= 0`` (penalty, weight decay, momentum, ...), with one behaviour
    everywhere in funcnn.

    * ``None``: returned as is when ``allow_none``, else a ``TypeError``.
    * ``bool`` or a non-number: ``TypeError``.
    * a Python or NumPy number: returned as a ``float``; NaN, infinities and negative values
      raise ``ValueError`` (so ``0`` and ``0.0`` are the same coefficient).
    * a scalar array: returned unchanged; a concrete one is range-checked like a number, a
      traced one (a grid over the coefficient under ``vmap``) is accepted as is.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a finite number >= 0; got {value!r}.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
        return v
    if not (hasattr(value, "shape") and hasattr(value, "dtype")) or np.shape(value) != ():
        raise TypeError(
            f"{name} must be a finite number >= 0 or a scalar array; got {value!r:.60}."
        )
    if is_concrete(value):
        v = float(value)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {v!r}.")
    return value


# --- keys, counts, fractions and static arguments -----------------------------------------


def check_key(key, name: str = "key") -> None:
    """One PRNG key: a new-style ``jax.random.key`` (a scalar of a key dtype) or a legacy
    uint32 ``jax.random.PRNGKey`` of shape ``(2,)``. Anything else, a stack of keys included,
    raises ``TypeError``."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and np.ndim(key) == 0:
        return
    if dtype == np.uint32 and np.shape(key) == (2,):
        return
    raise TypeError(
        f"{name} must be a single jax.random key (e.g. jax.random.key(0)); got "
        f"{type(key).__name__} with shape {np.shape(key)}."
    )


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_int(v, name: str) -> int:
    """A Python or NumPy integer (not a bool), returned as an ``int``; else ``ValueError``."""
    if not _is_int(v):
        raise ValueError(f"{name} must be an integer; got {v!r}.")
    return int(v)


def check_nonnegative_int(v, name: str) -> int:
    """An integer ``>= 0`` (not a bool), returned as an ``int``; else ``ValueError``."""
    if not _is_int(v) or v < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {v!r}.")
    return int(v)


def check_fraction(value, name: str) -> float:
    """A number in ``[0, 1)`` (a share of the examples held out), returned as a ``float``.

    A bool or a non-number, and any number outside ``[0, 1)``, raise ``ValueError``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in [0, 1); got {value!r}.")
    if not (0.0 <= float(value) < 1.0):
        raise ValueError(f"{name} must be in [0, 1); got {value!r}.")
    return float(value)


def check_static(value, name: str, *, fix: str = "") -> None:
    """Raise ``TypeError`` when ``value`` is traced: ``name`` fixes shapes or control flow and
    must be a Python value at trace time. ``fix`` says how to make it static (by default:
    ``static_argnames`` of ``jax.jit``)."""
    if isinstance(value, jax.core.Tracer):
        fix = fix or f"pass it as a static argument, e.g. jax.jit(f, static_argnames=({name!r},))"
        raise TypeError(f"{name} must be a static Python value, not a traced array; {fix}.")


def check_batch_size(batch_size, n: int, name: str = "batch_size") -> int:
    """A static minibatch size ``1 <= batch_size <= n`` for ``n`` examples, returned as ``int``."""
    check_static(batch_size, name)
    batch_size = check_positive_int(batch_size, name)
    if batch_size > n:
        raise ValueError(
            f"{name} must be at most the number of examples n = {n}; got {batch_size}. "
            f"Use {name}={n} for full-batch gradient descent."
        )
    return batch_size
