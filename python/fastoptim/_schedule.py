"""The base of every schedule: argument checks and the call on a step or an array."""

from __future__ import annotations

from typing import Any, overload

import numpy as np

from ._checks import check_nonnegative, check_positive_int, check_steps


class Schedule:
    """A learning rate as a function of the step t (0 for the first step).

    Calling it on an int gives a float; calling it on an integer array gives a
    float64 array of the same shape. Any schedule can be given as an optimizer's
    ``lr``.
    """

    @overload
    def __call__(self, step: int) -> float: ...

    @overload
    def __call__(self, step: np.ndarray) -> np.ndarray: ...

    def __call__(self, step: Any) -> Any:
        steps = check_steps(step)
        if isinstance(steps, np.ndarray):
            return self._evaluate(steps)
        return self._at(steps)

    def _at(self, step: int) -> float:
        raise NotImplementedError

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self._settings())
        return f"{type(self).__name__}({settings})"

    def _settings(self) -> list[tuple[str, Any]]:
        return []


class StepDecayBase(Schedule):
    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = check_nonnegative("lr", lr)
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_nonnegative("gamma", gamma)

    def _settings(self) -> list[tuple[str, Any]]:
        return [("lr", self.lr), ("step_size", self.step_size), ("gamma", self.gamma)]


class CosineAnnealingBase(Schedule):
    def __init__(self, lr_max: float, T_max: int, lr_min: float = 0.0) -> None:
        self.lr_max = check_nonnegative("lr_max", lr_max)
        self.T_max = check_positive_int("T_max", T_max)
        self.lr_min = check_nonnegative("lr_min", lr_min)

    def _settings(self) -> list[tuple[str, Any]]:
        return [("lr_max", self.lr_max), ("T_max", self.T_max), ("lr_min", self.lr_min)]


def _check_count(name: str, value: Any) -> int:
    """A number of steps that may be 0."""
    return (
        0
        if value == 0 and not isinstance(value, bool)
        else check_positive_int(name, value)
    )


class ConstantBase(Schedule):
    def __init__(self, lr: float, factor: float = 1.0, total_iters: int = 0) -> None:
        self.lr = check_nonnegative("lr", lr)
        self.factor = check_nonnegative("factor", factor)
        if self.factor > 1.0:
            raise ValueError(f"factor must be in [0, 1], got {self.factor}")
        self.total_iters = _check_count("total_iters", total_iters)

    def _settings(self) -> list[tuple[str, Any]]:
        return [
            ("lr", self.lr),
            ("factor", self.factor),
            ("total_iters", self.total_iters),
        ]


class MultiStepBase(Schedule):
    def __init__(self, lr: float, milestones: Any, gamma: float = 0.1) -> None:
        self.lr = check_nonnegative("lr", lr)
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError("milestones must be a list of step numbers")
        self.milestones = sorted(
            _check_count(f"milestones[{i}]", m) for i, m in enumerate(milestones)
        )
        self.gamma = check_nonnegative("gamma", gamma)

    def _settings(self) -> list[tuple[str, Any]]:
        return [("lr", self.lr), ("milestones", self.milestones), ("gamma", self.gamma)]


class ExponentialBase(Schedule):
    def __init__(self, lr: float, gamma: float) -> None:
        self.lr = check_nonnegative("lr", lr)
        self.gamma = check_nonnegative("gamma", gamma)

    def _settings(self) -> list[tuple[str, Any]]:
        return [("lr", self.lr), ("gamma", self.gamma)]


class LinearBase(Schedule):
    def __init__(
        self,
        lr: float,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        self.lr = check_nonnegative("lr", lr)
        self.start_factor = check_nonnegative("start_factor", start_factor)
        if not 0.0 < self.start_factor <= 1.0:
            raise ValueError(f"start_factor must be in (0, 1], got {self.start_factor}")
        self.end_factor = check_nonnegative("end_factor", end_factor)
        if self.end_factor > 1.0:
            raise ValueError(f"end_factor must be in [0, 1], got {self.end_factor}")
        self.total_iters = check_positive_int("total_iters", total_iters)

    def _settings(self) -> list[tuple[str, Any]]:
        return [
            ("lr", self.lr),
            ("start_factor", self.start_factor),
            ("end_factor", self.end_factor),
            ("total_iters", self.total_iters),
        ]


class PolynomialBase(Schedule):
    def __init__(self, lr: float, total_iters: int = 5, power: float = 1.0) -> None:
        self.lr = check_nonnegative("lr", lr)
        self.total_iters = check_positive_int("total_iters", total_iters)
        self.power = check_nonnegative("power", power)

    def _settings(self) -> list[tuple[str, Any]]:
        return [
            ("lr", self.lr),
            ("total_iters", self.total_iters),
            ("power", self.power),
        ]
