"""NumPy reference of :mod:`fastoptim.schedules`: the closed forms, vectorised."""

from __future__ import annotations

import math

import numpy as np

from .._schedule import CosineAnnealingBase, Schedule, StepDecayBase

__all__ = ["Schedule", "StepDecay", "CosineAnnealing"]


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
