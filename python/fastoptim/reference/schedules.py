"""NumPy reference of :mod:`fastoptim.schedules`: the closed forms, vectorised."""

from __future__ import annotations

import math

import numpy as np

from .._plateau import ReduceLROnPlateau
from .._schedule import (
    ConstantBase,
    CosineAnnealingBase,
    CosineWarmRestartsBase,
    ExponentialBase,
    LinearBase,
    MultiStepBase,
    OneCycleBase,
    PolynomialBase,
    Schedule,
    SequentialBase,
    StepDecayBase,
    WarmupBase,
)

__all__ = [
    "Constant",
    "CosineAnnealing",
    "CosineWarmRestarts",
    "Exponential",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Polynomial",
    "ReduceLROnPlateau",
    "Schedule",
    "Sequential",
    "StepDecay",
    "Warmup",
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


class CosineWarmRestarts(_Vectorised, CosineWarmRestartsBase):
    """lr_min + (lr_max - lr_min) * (1 + cos(pi * T_cur / T_i)) / 2."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        t_cur, period = self._position(steps)
        phase = math.pi * t_cur.astype(float) / period
        cosine = 1 + np.cos(phase)
        return np.asarray(self.lr_min + (self.lr_max - self.lr_min) * cosine / 2)

    def _position(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each step's place in its period, found in integers, and the period's length.

        A period too long for int64 holds every step after it begins; its length is
        only needed as a float.
        """
        period = np.full(steps.shape, self.T_0, dtype=np.int64)
        if self.T_mult == 1:
            return steps % self.T_0, period.astype(float)
        largest = np.iinfo(np.int64).max
        t_cur = steps.copy()
        length = np.zeros(steps.shape)
        while True:
            past = t_cur >= period
            if not past.any():
                return t_cur, np.where(length > 0, length, period.astype(float))
            t_cur[past] -= period[past]
            huge = past & (period > largest // self.T_mult)
            length[huge] = period[huge] * float(self.T_mult)
            period[huge] = largest
            period[past & ~huge] *= self.T_mult


class OneCycle(_Vectorised, OneCycleBase):
    """Each phase from its start rate to its end rate, by cosine or linearly."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        late = steps[steps > self.total_steps]
        if late.size:
            raise ValueError(
                "OneCycle has a learning rate for steps 0 to "
                f"total_steps={self.total_steps}, not for step {late[0]}"
            )
        t = steps.astype(float)
        out = np.empty(t.shape)
        left = np.ones(t.shape, dtype=bool)
        phases = self._phases()
        start_step = 0.0
        for number, (end_step, start_lr, end_lr) in enumerate(phases):
            here = left if number == len(phases) - 1 else left & (t <= end_step)
            pct = (t[here] - start_step) / (end_step - start_step)
            if self.anneal_strategy == "cos":
                cos_out = np.cos(np.pi * pct) + 1
                out[here] = end_lr + (start_lr - end_lr) / 2.0 * cos_out
            else:
                out[here] = (end_lr - start_lr) * pct + start_lr
            left &= ~here
            start_step = end_step
        return out


class Sequential(_Vectorised, SequentialBase):
    """schedules[i](t - milestones[i - 1]) from milestones[i - 1] on."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.milestones, steps, side="right")
        starts = np.array([0, *self.milestones], dtype=np.int64)[index]
        out = np.empty(steps.shape)
        for number, schedule in enumerate(self.schedules):
            here = index == number
            if here.any():
                out[here] = schedule(steps[here] - starts[here])
        return out


class Warmup(_Vectorised, WarmupBase):
    """s(0) * (f + (1 - f) * t / W) for t < W, then s(t - W)."""

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        out = np.empty(steps.shape)
        after = steps >= self.warmup_steps
        if after.any():
            out[after] = self.schedule(steps[after] - self.warmup_steps)
        ramp = steps[~after].astype(float)
        slope = 1.0 - self.start_factor
        peak = self.schedule(0)
        out[~after] = peak * (self.start_factor + slope * ramp / self.warmup_steps)
        return out
