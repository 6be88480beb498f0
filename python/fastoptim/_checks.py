"""Checks of user input shared by the optimizers, the schedules and the reference.

Each check raises an exception that names the argument, its index where it has one,
and what is wrong, so that nothing is changed before every input has been checked.
"""

from __future__ import annotations

import bisect
import math
import numbers
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    return result


def check_nonnegative(name: str, value: Any) -> float:
    result = check_real(name, value)
    if result < 0.0:
        raise ValueError(f"{name} must be >= 0, got {result}")
    return result


def check_unit_interval(name: str, value: Any) -> float:
    """A coefficient in [0, 1), such as a beta or a momentum that must decay."""
    result = check_real(name, value)
    if not 0.0 <= result < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {result}")
    return result


def check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return int(value)


def check_parameter(index: int, param: Any) -> None:
    """Refuse any array the optimizer could not update in place without a copy."""
    where = f"params[{index}]"
    if not isinstance(param, np.ndarray):
        raise TypeError(f"{where} is a {type(param).__name__}, not a numpy.ndarray")
    if param.dtype.newbyteorder("=") not in FLOAT_DTYPES:
        raise TypeError(f"{where} has dtype {param.dtype}; expected float32 or float64")
    if not param.dtype.isnative:
        raise TypeError(
            f"{where} has dtype {param.dtype.str}, not in native byte order"
        )
    if not param.flags.c_contiguous:
        raise ValueError(f"{where} is not C-contiguous; it cannot be updated in place")
    if not param.flags.writeable:
        raise ValueError(f"{where} is read-only")
    if not param.flags.aligned:
        raise ValueError(f"{where} is not aligned to its dtype")


def check_no_overlap(params: list[np.ndarray]) -> None:
    """Refuse parameters that share memory: each update would undo part of another.

    The arrays are C-contiguous, so each covers one range of bytes; sorted by start,
    two overlap exactly when one starts before the previous one ends.
    """
    spans = sorted(
        (p.ctypes.data, p.ctypes.data + p.nbytes, index)
        for index, p in enumerate(params)
        if p.nbytes
    )
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            low, high = sorted((first, second))
            raise ValueError(f"params[{high}] shares memory with params[{low}]")


def check_not_aliased(
    grads: list[np.ndarray | None] | tuple[np.ndarray | None, ...],
    spans: list[tuple[int, int, str]],
) -> None:
    """Refuse a gradient in the memory of a parameter or of the optimizer's state.

    ``spans`` are the byte ranges of those arrays with their names, sorted and not
    overlapping one another, so the only one that can overlap a gradient is the
    last that starts before the gradient ends.
    """
    starts = [start for start, _, _ in spans]
    for index, grad in enumerate(grads):
        if grad is None or not grad.nbytes:
            continue
        begin = grad.ctypes.data
        position = bisect.bisect_left(starts, begin + grad.nbytes) - 1
        if position >= 0 and spans[position][1] > begin:
            raise ValueError(f"grads[{index}] shares memory with {spans[position][2]}")


def check_gradients(params: list[np.ndarray], grads: Any) -> None:
    """Check one gradient per parameter: same dtype and shape, C-contiguous, or None."""
    if not isinstance(grads, (list, tuple)):
        raise TypeError(
            f"grads must be a list or tuple of arrays, got {type(grads).__name__}"
        )
    if len(grads) != len(params):
        raise ValueError(
            f"expected {len(params)} gradients, one per parameter, got {len(grads)}"
        )
    for index, (param, grad) in enumerate(zip(params, grads)):
        if grad is None:
            continue
        where = f"grads[{index}]"
        if not isinstance(grad, np.ndarray):
            hint = (
                "; wrap it with numpy.asarray" if isinstance(grad, np.generic) else ""
            )
            raise TypeError(
                f"{where} is a {type(grad).__name__}, not a numpy.ndarray{hint}"
            )
        if grad.dtype != param.dtype:
            raise TypeError(
                f"{where} has dtype {grad.dtype.str} but params[{index}] has "
                f"{param.dtype.str}; gradients are never cast"
            )
        if grad.shape != param.shape:
            raise ValueError(
                f"{where} has shape {grad.shape} but params[{index}] has {param.shape}"
            )
        if not grad.flags.c_contiguous:
            raise ValueError(f"{where} is not C-contiguous")
        if not grad.flags.aligned:
            raise ValueError(f"{where} is not aligned to its dtype")


def check_steps(steps: Any) -> int | np.ndarray:
    """A non-negative int, or an integer array of them as C-contiguous int64."""
    if isinstance(steps, np.ndarray):
        if steps.dtype.kind not in "iu":
            raise TypeError(f"steps must be an integer array, got dtype {steps.dtype}")
        if steps.size and steps.min() < 0:
            raise ValueError(f"steps must be >= 0, got {steps.min()}")
        return np.ascontiguousarray(steps, dtype=np.int64)
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral):
        raise TypeError(
            f"step must be an int or an integer array, got {type(steps).__name__}"
        )
    if steps < 0:
        raise ValueError(f"step must be >= 0, got {steps}")
    return int(steps)
