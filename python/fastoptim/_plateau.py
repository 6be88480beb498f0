"""Lower the learning rate when a metric stops improving, driven from Python."""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._checks import check_nonnegative, check_real

if TYPE_CHECKING:
    from ._optimizer import Optimizer

_SETTINGS = (
    "mode",
    "factor",
    "patience",
    "threshold",
    "threshold_mode",
    "cooldown",
    "min_lrs",
    "eps",
)
_PROGRESS = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")


class ReduceLROnPlateau:
    r"""Multiply each group's ``lr`` by ``factor`` when a metric has stopped improving.

    Call :meth:`step` with the metric once per evaluation. A value is better than
    the best so far :math:`b` when, in mode ``"min"``, it is below
    :math:`b (1 - \tau)` (``threshold_mode="rel"``) or :math:`b - \tau` (``"abs"``),
    with :math:`\tau` the ``threshold``; in mode ``"max"``, above :math:`b (1 + \tau)`
    or :math:`b + \tau`. After more than ``patience`` calls in a row without a better
    value, each group's rate becomes

    .. math::

        \eta \leftarrow \max(\eta \cdot \text{factor}, \eta_{\min})

    unless that changes it by ``eps`` or less; then ``cooldown`` calls pass in which
    bad values are not counted. A NaN metric is never better. This is torch's
    ReduceLROnPlateau, step for step.

    It changes the numeric ``lr`` of the optimizer's groups; a group whose ``lr``
    is a schedule is refused. Its progress and settings are part of the optimizer's
    :meth:`~fastoptim.Optimizer.state_dict` and of the file written by
    :meth:`~fastoptim.Optimizer.save`. Loading one of those into the optimizer
    restores them into the ReduceLROnPlateau attached to it, settings included, as
    torch's ``load_state_dict`` does; if none is attached yet, the next one built on
    the optimizer starts from them.

    Args:
        optimizer: the optimizer whose groups it drives; it may drive one only.
        mode: ``"min"`` when a lower metric is better, ``"max"`` when higher is.
        factor: the multiplier of each reduction, in [0, 1).
        patience: the number of calls without improvement to allow, an int >= 0.
        threshold: the margin a value must beat the best by, >= 0.
        threshold_mode: ``"rel"`` for a margin relative to the best, ``"abs"``.
        cooldown: the calls to wait after a reduction before counting again, >= 0.
        min_lr: the floor of the learning rate, one for all groups or one per group.
        eps: the smallest change of the learning rate worth making, >= 0.
    """

    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_lrs: list[float]
    eps: float
    best: float
    num_bad_epochs: int
    cooldown_counter: int
    last_epoch: int

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        from ._optimizer import Optimizer

        if not isinstance(optimizer, Optimizer):
            name = type(optimizer).__name__
            raise TypeError(f"optimizer must be a fastoptim optimizer, got {name}")
        group_count = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != group_count:
                raise ValueError(
                    f"min_lr has {len(min_lr)} entries for {group_count} param_groups"
                )
            min_lrs = list(min_lr)
        else:
            min_lrs = [min_lr] * group_count
        settings = _checked_settings(
            {
                "mode": mode,
                "factor": factor,
                "patience": patience,
                "threshold": threshold,
                "threshold_mode": threshold_mode,
                "cooldown": cooldown,
                "min_lrs": min_lrs,
                "eps": eps,
            },
            group_count,
        )
        _check_numeric_lrs(optimizer)

        self.optimizer = optimizer
        self.__dict__.update(settings)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        with optimizer._lock:
            if optimizer._plateau() is not None:
                raise ValueError("optimizer already has a ReduceLROnPlateau attached")
            # Progress loaded into the optimizer before this was built carries on.
            pending = optimizer._plateau_state
            if pending is not None:
                self._restore(pending)
                optimizer._plateau_state = None
            # Weak: the optimizer saves this one's state for as long as it is in use.
            optimizer._plateau = weakref.ref(self)

    def step(self, metric: Any) -> bool:
        """Record one value of the metric; return whether the rates were lowered."""
        if isinstance(metric, np.ndarray) and metric.ndim == 0:
            metric = metric.item()
        if isinstance(metric, (bool, np.bool_)) or not isinstance(metric, numbers.Real):
            name = type(metric).__name__
            raise TypeError(f"metric must be a real number, got {name}")
        current = float(metric)
        with self.optimizer._lock:
            _check_numeric_lrs(self.optimizer)
            self.last_epoch += 1
            if self._is_better(current):
                self.best = current
                self.num_bad_epochs = 0
            else:
                self.num_bad_epochs += 1
            if self.cooldown_counter > 0:
                self.cooldown_counter -= 1
                self.num_bad_epochs = 0
            if self.num_bad_epochs <= self.patience:
                return False
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            return True

    def _is_better(self, current: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < self.best * (1.0 - self.threshold)
        if self.mode == "min":
            return current < self.best - self.threshold
        if self.threshold_mode == "rel":
            return current > self.best * (self.threshold + 1.0)
        return current > self.best + self.threshold

    def state_dict(self) -> dict[str, Any]:
        """The settings and progress, as plain numbers, strings and a list."""
        state = {name: getattr(self, name) for name in _SETTINGS + _PROGRESS}
        state["min_lrs"] = list(self.min_lrs)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore settings and progress from :meth:`state_dict`; check them first."""
        try:
            checked = check_plateau_state(state_dict, len(self.optimizer.param_groups))
        except (TypeError, ValueError) as error:
            raise type(error)(f"state_dict: {error}") from None
        with self.optimizer._lock:
            self._restore(checked)

    def _restore(self, checked: Mapping[str, Any]) -> None:
        self.__dict__.update(checked)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SETTINGS)
        return f"ReduceLROnPlateau({settings}, best={self.best!r})"


def check_plateau_state(state: Any, group_count: int) -> dict[str, Any]:
    """A copy of a ReduceLROnPlateau state dict, every entry checked."""
    if not isinstance(state, Mapping):
        raise TypeError(f"must be a dict, got {type(state).__name__}")
    missing = [name for name in _SETTINGS + _PROGRESS if name not in state]
    if missing:
        raise ValueError(f"missing entry {missing[0]!r}")
    checked = _checked_settings(state, group_count)
    best = state["best"]
    if isinstance(best, (bool, np.bool_)) or not isinstance(best, numbers.Real):
        raise TypeError(f"best must be a real number, got {type(best).__name__}")
    checked["best"] = float(best)
    for name in ("num_bad_epochs", "cooldown_counter", "last_epoch"):
        checked[name] = _count(name, state[name])
    return checked


def _checked_settings(settings: Mapping[str, Any], group_count: int) -> dict[str, Any]:
    mode = settings["mode"]
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    threshold_mode = settings["threshold_mode"]
    if threshold_mode not in ("rel", "abs"):
        raise ValueError(
            f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
        )
    factor = check_real("factor", settings["factor"])
    if not 0.0 <= factor < 1.0:
        raise ValueError(f"factor must be in [0, 1), got {factor}")
    min_lrs = settings["min_lrs"]
    if not isinstance(min_lrs, (list, tuple)) or len(min_lrs) != group_count:
        raise ValueError(f"min_lrs must be a list of {group_count} learning rates")
    return {
        "mode": mode,
        "factor": factor,
        "patience": _count("patience", settings["patience"]),
        "threshold": check_nonnegative("threshold", settings["threshold"]),
        "threshold_mode": threshold_mode,
        "cooldown": _count("cooldown", settings["cooldown"]),
        "min_lrs": [
            check_nonnegative(f"min_lr[{number}]", value)
            for number, value in enumerate(min_lrs)
        ],
        "eps": check_nonnegative("eps", settings["eps"]),
    }


def _count(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _check_numeric_lrs(optimizer: Optimizer) -> None:
    for number, group in enumerate(optimizer.param_groups):
        if callable(group["lr"]):
            raise TypeError(
                f"param_groups[{number}]['lr'] is a schedule; ReduceLROnPlateau "
                "lowers numeric learning rates only"
            )
