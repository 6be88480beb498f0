"""Learning-rate schedules, evaluated by fastoptim's compiled core.

Each is a function of the step t (0 for the first step), callable on an int or on an
integer array, and usable as any optimizer's ``lr``: the optimizer then uses
``schedule(t)`` on its step t, the sequence torch gives when ``scheduler.step()``
follows every ``optimizer.step()``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import _core as _core_module
from ._schedule import (
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
    "plot",
    "Constant",
    "CosineAnnealing",
    "Exponential",
    "Linear",
    "MultiStep",
    "Polynomial",
    "Schedule",
    "StepDecay",
]


class NativeSchedule(Schedule):
    """Evaluates through the compiled schedule of the same name and settings."""

    @functools.cached_property
    def _core(self) -> _core_module.Schedule:
        # Built on first use from the checked settings, so each class needs no
        # constructor of its own; the compiled class shares the Python one's name.
        compiled: type[_core_module.Schedule] = getattr(
            _core_module, type(self).__name__
        )
        return compiled(*(value for _, value in self._settings()))

    def _at(self, step: int) -> float:
        return self._core(step)

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return self._core.evaluate(steps)


class StepDecay(NativeSchedule, StepDecayBase):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    .. math::

        \eta_t = \eta \, \gamma^{\lfloor t / s \rfloor}

    with :math:`\eta` (``lr``), :math:`\gamma` (``gamma``) and :math:`s`
    (``step_size``). This is the closed form of torch's StepLR, whose recursive form
    multiplies by :math:`\gamma` repeatedly and can differ from it in the last bit.

    Args:
        lr: the initial learning rate, >= 0.
        step_size: the number of steps between decays, > 0.
        gamma: the factor of each decay, >= 0.
    """


class CosineAnnealing(NativeSchedule, CosineAnnealingBase):
    r"""Anneal the learning rate from ``lr_max`` to ``lr_min`` along a half cosine.

    .. math::

        \eta_t = \eta_{\min} + \tfrac12 (\eta_{\max} - \eta_{\min})
            \left(1 + \cos\left(\pi \, t / T_{\max}\right)\right)

    computed as torch's closed form of CosineAnnealingLR. Past :math:`T_{\max}` the
    formula goes on, rising back towards :math:`\eta_{\max}` over the next
    :math:`T_{\max}` steps; torch's closed form does the same.

    Args:
        lr_max: the learning rate at t = 0, >= 0.
        T_max: the number of steps to reach ``lr_min``, > 0.
        lr_min: the learning rate at t = T_max, >= 0.
    """


class Constant(NativeSchedule, ConstantBase):
    r"""A constant learning rate, scaled by ``factor`` for the first steps.

    .. math::

        \eta_t = \eta \left(f + [t \ge T] (1 - f)\right)

    with :math:`\eta` (``lr``), :math:`f` (``factor``) and :math:`T`
    (``total_iters``): torch's ConstantLR closed form; with the defaults, optax's
    constant_schedule.

    Args:
        lr: the learning rate, >= 0.
        factor: the scale of the first ``total_iters`` steps, in [0, 1].
        total_iters: the number of scaled steps, >= 0.
    """


class MultiStep(NativeSchedule, MultiStepBase):
    r"""Multiply the learning rate by ``gamma`` at each milestone.

    .. math::

        \eta_t = \eta \, \gamma^{\#\{m \in \text{milestones} : m \le t\}}

    torch's MultiStepLR closed form; a milestone given twice counts twice.

    Args:
        lr: the initial learning rate, >= 0.
        milestones: the steps at which the rate decays, each >= 0.
        gamma: the factor of each decay, >= 0.
    """


class Exponential(NativeSchedule, ExponentialBase):
    r"""Multiply the learning rate by ``gamma`` at every step.

    .. math::

        \eta_t = \eta \, \gamma^t

    torch's ExponentialLR closed form (optax's exponential_decay with one step per
    transition).

    Args:
        lr: the initial learning rate, >= 0.
        gamma: the factor of each step, >= 0.
    """


class Linear(NativeSchedule, LinearBase):
    r"""Move the learning rate linearly from ``start_factor`` to ``end_factor`` of it.

    .. math::

        \eta_t = \eta \left(s + (e - s) \frac{\min(t, T)}{T}\right)

    with :math:`s` (``start_factor``), :math:`e` (``end_factor``) and :math:`T`
    (``total_iters``): torch's LinearLR closed form, and optax's linear_schedule
    from :math:`\eta s` to :math:`\eta e` over :math:`T` steps.

    Args:
        lr: the base learning rate, >= 0.
        start_factor: the fraction of ``lr`` at t = 0, in (0, 1].
        end_factor: the fraction of ``lr`` from t = T on, in [0, 1].
        total_iters: the length of the ramp, > 0.
    """


class Polynomial(NativeSchedule, PolynomialBase):
    r"""Decay the learning rate to zero along a polynomial.

    .. math::

        \eta_t = \eta \left(1 - \frac{\min(t, T)}{T}\right)^p

    with :math:`T` (``total_iters``) and :math:`p` (``power``): torch's
    PolynomialLR closed form.

    Args:
        lr: the initial learning rate, >= 0.
        total_iters: the steps to reach zero, > 0.
        power: the exponent, >= 0.
    """


def plot(schedule: Any, steps: int, *, ax: Any = None, label: str | None = None) -> Any:
    """Draw ``schedule`` over steps 0 .. ``steps`` - 1 with matplotlib; return the axes.

    Works for any schedule here or in :mod:`fastoptim.reference.schedules`, and
    for any callable from a step to a learning rate. Draws on ``ax`` if given,
    else on a new figure. matplotlib is an optional dependency:
    ``pip install "fastoptim[plot]"``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            'fastoptim.schedules.plot needs matplotlib: pip install "fastoptim[plot]"'
        ) from None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    t = np.arange(steps)
    if isinstance(schedule, Schedule):
        values = schedule(t)
    else:
        values = np.array([float(schedule(int(step))) for step in t])
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(t, values, label=label if label is not None else repr(schedule))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
