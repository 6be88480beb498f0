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
from ._plateau import ReduceLROnPlateau
from ._schedule import (
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
    "plot",
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


class NativeSchedule(Schedule):
    """Evaluates through the compiled schedule of the same name and settings."""

    @functools.cached_property
    def _core(self) -> _core_module.Schedule:
        # Built on first use from the checked settings, so each class needs no
        # constructor of its own; the compiled class shares the Python one's name.
        compiled: type[_core_module.Schedule] = getattr(
            _core_module, type(self).__name__
        )
        return compiled(*(_compiled(value) for _, value in self._settings()))

    def _check_part(self, name: str, value: Any) -> Schedule:
        if not isinstance(value, NativeSchedule):
            where = "" if isinstance(value, Schedule) else " schedule"
            raise TypeError(
                f"{name} must be a schedule from fastoptim.schedules, got a{where} "
                f"{type(value).__name__} from {type(value).__module__}"
            )
        return value

    def _at(self, step: int) -> float:
        return self._core(step)

    def _evaluate(self, steps: np.ndarray) -> np.ndarray:
        return self._core.evaluate(steps)


def _compiled(value: Any) -> Any:
    """A setting as the compiled core takes it: a part schedule as its compiled twin."""
    if isinstance(value, NativeSchedule):
        return value._core
    if isinstance(value, list):
        return [_compiled(item) for item in value]
    return value


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


class CosineWarmRestarts(NativeSchedule, CosineWarmRestartsBase):
    r"""Anneal from ``lr_max`` to ``lr_min`` along a half cosine, again each period.

    .. math::

        \eta_t = \eta_{\min} + \tfrac12 (\eta_{\max} - \eta_{\min})
            \left(1 + \cos\left(\pi \, T_{cur} / T_i\right)\right)

    where period :math:`i` lasts :math:`T_i = T_0 \, T_{mult}^i` steps and
    :math:`T_{cur}` counts the steps since it began (SGDR, torch's
    CosineAnnealingWarmRestarts). :math:`T_{cur}` and :math:`T_i` are found in
    integers, as torch finds them when its scheduler is stepped once per step.

    .. warning::
        torch's ``scheduler.step(epoch)`` form finds the period with a floating-point
        logarithm and can misplace a restart: with ``T_0=1, T_mult=3`` it puts step
        121, the first of a period, at the end of the previous one. This class
        follows the step-by-step form, which has no such error.

    Args:
        lr_max: the learning rate at the start of each period, >= 0.
        T_0: the length of the first period, > 0.
        T_mult: the factor by which each period is longer than the last, an int > 0.
        lr_min: the learning rate the cosine approaches at the end of a period, >= 0.
    """


class OneCycle(NativeSchedule, OneCycleBase):
    r"""The one-cycle policy: warm up to ``max_lr``, then anneal far below the start.

    With :math:`\eta_0 = \eta_{\max} / d` (``max_lr / div_factor``),
    :math:`\eta_{end} = \eta_0 / f` (``/ final_div_factor``), :math:`T` =
    ``total_steps`` and :math:`p` = ``pct_start``, the phases end at steps
    :math:`e_1 = pT - 1` and :math:`e_2 = T - 1`, going from :math:`\eta_0` to
    :math:`\eta_{\max}` and from :math:`\eta_{\max}` to :math:`\eta_{end}`. With
    ``three_phase``: :math:`e_1 = pT - 1`, :math:`e_2 = 2pT - 2`, :math:`e_3 = T - 1`,
    through :math:`\eta_0 \to \eta_{\max} \to \eta_0 \to \eta_{end}`. In a phase
    from step :math:`s` to :math:`e`, rates :math:`a` to :math:`b`, with
    :math:`x = (t - s) / (e - s)`:

    .. math::

        \eta_t = b + \tfrac{a - b}{2} \left(\cos(\pi x) + 1\right)
        \quad\text{(cos)}, \qquad
        \eta_t = (b - a)\, x + a \quad\text{(linear)}

    This is torch's OneCycleLR, with its defaults and its order of operations. It is
    defined for steps 0 to ``total_steps``, as torch's is; a later step raises
    ValueError.

    .. warning::
        torch's OneCycleLR also cycles the optimizer's momentum (``cycle_momentum``);
        this schedule sets the learning rate only.

    Args:
        max_lr: the peak learning rate, >= 0.
        total_steps: the length of the cycle, > 0.
        pct_start: the fraction of the cycle spent rising, in [0, 1]; every phase
            must keep at least one step.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: ``max_lr`` over the starting rate, > 0.
        final_div_factor: the starting rate over the final one, > 0.
        three_phase: whether to come back down to the starting rate before the final
            annealing.
    """


class Sequential(NativeSchedule, SequentialBase):
    r"""Run ``schedules`` one after the other, switching at each milestone.

    .. math::

        \eta_t = s_i(t - m_{i-1}) \quad\text{for } m_{i-1} \le t < m_i,

    with :math:`m_{-1} = 0` and :math:`m_n = \infty`: each schedule counts its steps
    from the milestone where it takes over. This is optax's join_schedules, and
    torch's SequentialLR when each of its schedulers starts from the optimizer's
    learning rate; here each schedule carries its own.

    .. warning::
        Each part follows its closed form. torch's SequentialLR steps its schedulers
        by their recursive forms, which drift from those: a CosineAnnealingLR run
        past its ``T_max`` there differs by 2e-12 (relative) after 2000 steps.

    Args:
        schedules: the schedules from :mod:`fastoptim.schedules`, in order.
        milestones: the steps at which the next schedule takes over, one fewer than
            the schedules, strictly increasing and > 0.
    """


class Warmup(NativeSchedule, WarmupBase):
    r"""Ramp up linearly to any schedule, then follow it.

    .. math::

        \eta_t = s(0) \left(f + (1 - f) \frac{t}{W}\right) \text{ for } t < W,
        \qquad \eta_t = s(t - W) \text{ for } t \ge W,

    with :math:`s` (``schedule``), :math:`W` (``warmup_steps``) and :math:`f`
    (``start_factor``). The ramp is torch's LinearLR closed form, so this equals
    torch's ``SequentialLR([LinearLR(start_factor=f, total_iters=W), s], [W])``
    when ``s`` starts at the optimizer's rate, and optax's ``join_schedules`` of a
    ``linear_schedule`` and ``s``. torch's LinearLR refuses ``f = 0``; here it is
    the default, so that training starts from a learning rate of zero. As in
    :class:`Sequential`, ``s`` follows its closed form, where torch's SequentialLR
    steps it recursively.

    Args:
        schedule: the schedule from :mod:`fastoptim.schedules` to warm up to.
        warmup_steps: the length of the ramp, > 0.
        start_factor: the fraction of ``schedule(0)`` at t = 0, in [0, 1].
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
