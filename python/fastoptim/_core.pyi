"""Types of fastoptim's compiled core. Private: use the fastoptim package."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__version__: str

class SGDOptions:
    def __init__(
        self,
        *,
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
        maximize: bool,
    ) -> None: ...

class MomentumOptions:
    def __init__(self, *, lr: float, gamma: float, nesterov: bool) -> None: ...

class AdamOptions:
    def __init__(
        self,
        *,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
        amsgrad: bool,
        maximize: bool,
        decoupled_weight_decay: bool,
    ) -> None: ...

def sgd(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray | None],
    momentum_buffers: Sequence[np.ndarray | None] | None,
    first_steps: Sequence[bool] | None,
    options: SGDOptions,
) -> None: ...
def momentum(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray | None],
    velocities: Sequence[np.ndarray],
    options: MomentumOptions,
) -> None: ...
def adam(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray | None],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    max_exp_avg_sqs: Sequence[np.ndarray] | None,
    steps: npt.NDArray[np.int64],
    options: AdamOptions,
) -> None: ...

class Schedule:
    def __call__(self, step: int) -> float: ...
    def evaluate(self, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]: ...

class StepDecay(Schedule):
    def __init__(self, lr: float, step_size: int, gamma: float) -> None: ...

class CosineAnnealing(Schedule):
    def __init__(self, lr_max: float, T_max: int, lr_min: float) -> None: ...
