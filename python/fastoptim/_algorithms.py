"""The hyperparameters, checks and state of each algorithm.

The native optimizers and the NumPy reference subclass these, so both take the same
arguments, refuse the same values and keep the same state; they differ only in how
a group is updated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable, Union

import numpy as np

from ._checks import (
    check_flag,
    check_nonnegative,
    check_real,
    check_unit_interval,
)
from ._optimizer import Optimizer, ParamGroup, zeros_like

LearningRate = Union[float, Callable[[int], float]]


def check_lr(value: Any) -> None:
    """A learning rate is a non-negative number or a schedule (called on the step)."""
    if not callable(value):
        check_nonnegative("lr", value)


class SGDBase(Optimizer):
    _hyperparameters = (
        "lr",
        "momentum",
        "dampening",
        "nesterov",
        "weight_decay",
        "maximize",
    )
    _buffers = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate,
        *,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
        skip_nonfinite: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "nesterov": nesterov,
                "weight_decay": weight_decay,
                "maximize": maximize,
            },
            skip_nonfinite=skip_nonfinite,
        )

    @staticmethod
    def _check_group(group: ParamGroup) -> None:
        check_lr(group["lr"])
        momentum = check_nonnegative("momentum", group["momentum"])
        dampening = check_real("dampening", group["dampening"])
        if not 0.0 <= dampening <= 1.0:
            raise ValueError(f"dampening must be in [0, 1], got {dampening}")
        check_nonnegative("weight_decay", group["weight_decay"])
        check_flag("maximize", group["maximize"])
        if check_flag("nesterov", group["nesterov"]) and (
            momentum <= 0.0 or dampening != 0.0
        ):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")

    def _initial_buffer(
        self, group: ParamGroup, name: str, param: np.ndarray
    ) -> np.ndarray | None:
        # As in torch, the buffer starts as the first gradient it sees, so it is made
        # on the first step with momentum, not before.
        return None

    def _required_buffers(self, group: ParamGroup) -> tuple[str, ...]:
        return ()


class MomentumBase(Optimizer):
    _hyperparameters = ("lr", "gamma", "nesterov")
    _buffers = ("velocity",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate,
        *,
        gamma: float = 0.9,
        nesterov: bool = False,
        skip_nonfinite: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "gamma": gamma, "nesterov": nesterov},
            skip_nonfinite=skip_nonfinite,
        )

    @staticmethod
    def _check_group(group: ParamGroup) -> None:
        check_lr(group["lr"])
        check_unit_interval("gamma", group["gamma"])
        check_flag("nesterov", group["nesterov"])


class AdamBase(Optimizer):
    _hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")
    _buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _counts_steps = True
    # AdamW decays the parameter itself instead of adding the decay to the gradient.
    _decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
        skip_nonfinite: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": weight_decay,
                "amsgrad": amsgrad,
                "maximize": maximize,
            },
            skip_nonfinite=skip_nonfinite,
        )

    @staticmethod
    def _check_group(group: ParamGroup) -> None:
        check_lr(group["lr"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        check_unit_interval("betas[0]", betas[0])
        check_unit_interval("betas[1]", betas[1])
        check_nonnegative("eps", group["eps"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_flag("amsgrad", group["amsgrad"])
        check_flag("maximize", group["maximize"])

    def _initial_buffer(
        self, group: ParamGroup, name: str, param: np.ndarray
    ) -> np.ndarray | None:
        if name == "max_exp_avg_sq" and not group["amsgrad"]:
            return None
        return zeros_like(param)

    def _required_buffers(self, group: ParamGroup) -> tuple[str, ...]:
        if group["amsgrad"]:
            return self._buffers
        return ("exp_avg", "exp_avg_sq")

    @staticmethod
    def _amsgrad_buffers(
        group: ParamGroup, params: list[np.ndarray], state: dict[str, Any]
    ) -> list[np.ndarray | None] | None:
        """The running maxima when AMSGrad is on, made if it was switched on late."""
        if not group["amsgrad"]:
            return None
        buffers: list[np.ndarray | None] = state["max_exp_avg_sq"]
        for position, param in enumerate(params):
            if buffers[position] is None:
                buffers[position] = zeros_like(param)
        return buffers


class AdamWBase(AdamBase):
    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
        skip_nonfinite: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            skip_nonfinite=skip_nonfinite,
        )
