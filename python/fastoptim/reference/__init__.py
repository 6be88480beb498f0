"""The NumPy reference: the same optimizers as fastoptim, in plain vectorised NumPy.

This is the readable definition of every update, the oracle of the tests and the
baseline of the benchmarks. It takes the same arguments, keeps the same state and
computes the same values bit for bit: each scalar is rounded to the parameter's
dtype where the compiled kernel rounds it (a Python float meeting a float32 array is
converted to float32 first), and the operations come in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._algorithms import AdamBase, AdamWBase, MomentumBase, SGDBase
from .._optimizer import ParamGroup
from . import schedules

__all__ = ["SGD", "Momentum", "Adam", "AdamW", "schedules"]


class SGD(SGDBase):
    """NumPy reference of :class:`fastoptim.SGD`."""

    def _update_group(
        self,
        group: ParamGroup,
        lr: float,
        grads: list[np.ndarray | None],
        state: dict[str, Any],
    ) -> None:
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        buffers = state["momentum_buffer"]
        for position, (param, grad) in enumerate(zip(group["params"], grads)):
            if grad is None:
                continue
            g = -grad if group["maximize"] else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            if momentum != 0:
                buf = buffers[position]
                if buf is None:
                    buf = buffers[position] = np.empty_like(param)
                    buf[...] = g
                else:
                    buf[...] = buf * momentum + (1.0 - dampening) * g
                g = g + momentum * buf if group["nesterov"] else buf
            param += -lr * g


class Momentum(MomentumBase):
    """NumPy reference of :class:`fastoptim.Momentum`."""

    def _update_group(
        self,
        group: ParamGroup,
        lr: float,
        grads: list[np.ndarray | None],
        state: dict[str, Any],
    ) -> None:
        gamma = float(group["gamma"])
        for param, grad, velocity in zip(group["params"], grads, state["velocity"]):
            if grad is None:
                continue
            velocity[...] = gamma * velocity + lr * grad
            if group["nesterov"]:
                param -= gamma * velocity + lr * grad
            else:
                param -= velocity


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """start + weight (end - start), in the form torch picks for the weight's size."""
    if abs(weight) < 0.5:
        result: np.ndarray = start + weight * (end - start)
    else:
        complement = 1 - start.dtype.type(weight)
        result = end - (end - start) * complement
    return result


def _adam_update(
    self: AdamBase,
    group: ParamGroup,
    lr: float,
    grads: list[np.ndarray | None],
    state: dict[str, Any],
) -> None:
    beta1, beta2 = (float(beta) for beta in group["betas"])
    eps = float(group["eps"])
    weight_decay = float(group["weight_decay"])
    max_exp_avg_sqs = self._amsgrad_buffers(group, group["params"], state)
    steps = state["step"]
    for position, (param, grad) in enumerate(zip(group["params"], grads)):
        if grad is None:
            continue
        exp_avg = state["exp_avg"][position]
        exp_avg_sq = state["exp_avg_sq"][position]
        steps[position] += 1
        t = float(steps[position])

        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if self._decoupled_weight_decay:
                param *= 1.0 - lr * weight_decay
            else:
                g = g + weight_decay * param
        exp_avg[...] = _lerp(exp_avg, g, 1.0 - beta1)
        exp_avg_sq[...] = exp_avg_sq * beta2 + (1.0 - beta2) * g * g

        bias_correction1 = 1.0 - beta1**t
        bias_correction2 = 1.0 - beta2**t
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if max_exp_avg_sqs is not None:
            max_exp_avg_sq = max_exp_avg_sqs[position]
            assert max_exp_avg_sq is not None
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = np.sqrt(max_exp_avg_sq) / bias_correction2_sqrt + eps
        else:
            denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
        param += -step_size * exp_avg / denom


class Adam(AdamBase):
    """NumPy reference of :class:`fastoptim.Adam`."""

    _update_group = _adam_update


class AdamW(AdamWBase):
    """NumPy reference of :class:`fastoptim.AdamW`."""

    _update_group = _adam_update
