"""NumPy reference of :mod:`fastoptim.schedules`: the closed forms, vectorised."""

from __future__ import annotations

import math

import numpy as np

from .._schedule import (
    ConstantBase,
    CosineAnnealingBase,
    ExponentialBase,
    LinearBase,
    MultiStepBase,
    PolynomialBase,
    Schedule,
    StepDecayBase,
)

__all__ = [
    "Constant",
    "CosineAnnealing",
    "Exponential",
    "Linear",
    "MultiStep",
    "Polynomial",
    "Schedule",
    "StepDecay",
]


class _Vectorised(Schedule):
    """Evaluates one step as an array of one."""

    def _at(self, step: int) -> float:
        return float(self._evaluate(np.array([step], dtype=np.int64))[0])


class StepDecay(_Vectorised, StepDecayBase):
    """lr * gamma ** (t // step_size)."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        decays = np.power(self.gamma, (steps // self.step_size).astype(float))
        return np.asarray(self.lr * decays)


class CosineAnnealing(_Vectorised, CosineAnnealingBase):
    """lr_min + (lr_max - lr_min) * (1 + cos(pi * t / T_max)) / 2."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        phase = math.pi * steps.astype(float) / self.T_max
        return self.lr_min + (self.lr_max - self.lr_min) * (1 + np.cos(phase)) / 2


class Constant(_Vectorised, ConstantBase):
    """lr * (factor + (t >= total_iters) * (1 - factor))."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        reached = (steps >= self.total_iters).astype(float)
        return np.asarray(self.lr * (self.factor + reached * (1.0 - self.factor)))


class MultiStep(_Vectorised, MultiStepBase):
    """lr * gamma ** (number of milestones <= t)."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        passed = np.searchsorted(self.milestones, steps, side="right")
        return np.asarray(self.lr * np.power(self.gamma, passed.astype(float)))


class Exponential(_Vectorised, ExponentialBase):
    """lr * gamma ** t."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return np.asarray(self.lr * np.power(self.gamma, steps.astype(float)))


class Linear(_Vectorised, LinearBase):
    """lr * (start + (end - start) * min(t, T) / T)."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        done = np.minimum(steps, self.total_iters).astype(float)
        slope = self.end_factor - self.start_factor
        return np.asarray(
            self.lr * (self.start_factor + slope * done / self.total_iters)
        )


class Polynomial(_Vectorised, PolynomialBase):
    """lr * (1 - min(t, T) / T) ** power."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        done = np.minimum(steps, self.total_iters).astype(float)
        return np.asarray(self.lr * np.power(1.0 - done / self.total_iters, self.power))
