"""Learning-rate schedules, evaluated by fastoptim's compiled core.

Each is a function of the step t (0 for the first step), callable on an int or on an
integer array, and usable as any optimizer's ``lr``: the optimizer then uses
``schedule(t)`` on its step t, the sequence torch gives when ``scheduler.step()``
follows every ``optimizer.step()``.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._schedule import CosineAnnealingBase, Schedule, StepDecayBase

__all__ = ["Schedule", "StepDecay", "CosineAnnealing"]


class NativeSchedule(Schedule):
    """Delegates evaluation to the compiled schedule made by the constructor."""

    _core: _core.Schedule

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

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(lr, step_size, gamma)
        self._core = _core.StepDecay(self.lr, self.step_size, self.gamma)


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

    def __init__(self, lr_max: float, T_max: int, lr_min: float = 0.0) -> None:
        super().__init__(lr_max, T_max, lr_min)
        self._core = _core.CosineAnnealing(self.lr_max, self.T_max, self.lr_min)
