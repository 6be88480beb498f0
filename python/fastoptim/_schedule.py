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
