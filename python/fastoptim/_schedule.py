"""The base of every schedule: argument checks and the call on a step or an array."""

from __future__ import annotations

from typing import Any, overload

import numpy as np

from ._checks import (
    check_flag,
    check_nonnegative,
    check_positive_int,
    check_real,
    check_steps,
)


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

    def _check_part(self, name: str, value: Any) -> Schedule:
        """A schedule this one may be composed of."""
        if not isinstance(value, Schedule):
            raise TypeError(f"{name} must be a schedule, got {type(value).__name__}")
        return value


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


class CosineWarmRestartsBase(Schedule):
    def __init__(
        self, lr_max: float, T_0: int, T_mult: int = 1, lr_min: float = 0.0
    ) -> None:
        self.lr_max = check_nonnegative("lr_max", lr_max)
        self.T_0 = check_positive_int("T_0", T_0)
        self.T_mult = check_positive_int("T_mult", T_mult)
        self.lr_min = check_nonnegative("lr_min", lr_min)

    def _settings(self) -> list[tuple[str, Any]]:
        return [
            ("lr_max", self.lr_max),
            ("T_0", self.T_0),
            ("T_mult", self.T_mult),
            ("lr_min", self.lr_min),
        ]


class OneCycleBase(Schedule):
    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        self.max_lr = check_nonnegative("max_lr", max_lr)
        self.total_steps = check_positive_int("total_steps", total_steps)
        self.pct_start = check_real("pct_start", pct_start)
        if not 0.0 <= self.pct_start <= 1.0:
            raise ValueError(f"pct_start must be in [0, 1], got {self.pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        self.div_factor = check_real("div_factor", div_factor)
        if self.div_factor <= 0.0:
            raise ValueError(f"div_factor must be > 0, got {self.div_factor}")
        self.final_div_factor = check_real("final_div_factor", final_div_factor)
        if self.final_div_factor <= 0.0:
            raise ValueError(
                f"final_div_factor must be > 0, got {self.final_div_factor}"
            )
        self.three_phase = check_flag("three_phase", three_phase)

        start = 0.0
        for number, (end, _, _) in enumerate(self._phases(), start=1):
            if not end > start:
                raise ValueError(
                    f"pct_start={self.pct_start} with total_steps={self.total_steps} "
                    f"leaves phase {number} of the cycle without steps"
                )
            start = end

    def _settings(self) -> list[tuple[str, Any]]:
        return [
            ("max_lr", self.max_lr),
            ("total_steps", self.total_steps),
            ("pct_start", self.pct_start),
            ("anneal_strategy", self.anneal_strategy),
            ("div_factor", self.div_factor),
            ("final_div_factor", self.final_div_factor),
            ("three_phase", self.three_phase),
        ]

    def _phases(self) -> list[tuple[float, float, float]]:
        """Each phase's last step, as a float, and its first and last rates."""
        initial_lr = self.max_lr / self.div_factor
        min_lr = initial_lr / self.final_div_factor
        last = float(self.total_steps - 1)
        rise = self.pct_start * self.total_steps - 1.0
        if self.three_phase:
            fall = 2.0 * self.pct_start * self.total_steps - 2.0
            return [
                (rise, initial_lr, self.max_lr),
                (fall, self.max_lr, initial_lr),
                (last, initial_lr, min_lr),
            ]
        return [(rise, initial_lr, self.max_lr), (last, self.max_lr, min_lr)]


def _check_milestones(milestones: Any) -> list[int]:
    """Strictly increasing positive step numbers."""
    if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
        raise TypeError("milestones must be a list of step numbers")
    checked = [
        check_positive_int(f"milestones[{i}]", m) for i, m in enumerate(milestones)
    ]
    for i in range(1, len(checked)):
        if checked[i] <= checked[i - 1]:
            raise ValueError(
                f"milestones[{i}] must be greater than milestones[{i - 1}], "
                f"got {checked[i]} after {checked[i - 1]}"
            )
    return checked


class SequentialBase(Schedule):
    def __init__(self, schedules: Any, milestones: Any) -> None:
        if isinstance(schedules, (str, bytes, Schedule)) or not hasattr(
            schedules, "__iter__"
        ):
            raise TypeError("schedules must be a list of schedules")
        self.schedules = [
            self._check_part(f"schedules[{i}]", s) for i, s in enumerate(schedules)
        ]
        if not self.schedules:
            raise ValueError("schedules must hold at least one schedule")
        self.milestones = _check_milestones(milestones)
        if len(self.milestones) != len(self.schedules) - 1:
            raise ValueError(
                f"milestones must hold one step fewer than schedules: got "
                f"{len(self.milestones)} for {len(self.schedules)} schedules"
            )

    def _settings(self) -> list[tuple[str, Any]]:
        return [("schedules", self.schedules), ("milestones", self.milestones)]


class WarmupBase(Schedule):
    def __init__(
        self, schedule: Any, warmup_steps: int, start_factor: float = 0.0
    ) -> None:
        self.schedule = self._check_part("schedule", schedule)
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        self.start_factor = check_nonnegative("start_factor", start_factor)
        if self.start_factor > 1.0:
            raise ValueError(f"start_factor must be in [0, 1], got {self.start_factor}")

    def _settings(self) -> list[tuple[str, Any]]:
        return [
            ("schedule", self.schedule),
            ("warmup_steps", self.warmup_steps),
            ("start_factor", self.start_factor),
        ]
