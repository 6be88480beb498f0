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

class Engine:
    def __init__(
        self,
        algorithm: str,
        params: Sequence[np.ndarray],
        buffers: Sequence[Sequence[np.ndarray | None]],
        groups: Sequence[int],
        group_count: int,
        counts: npt.NDArray[np.int64],
    ) -> None: ...
    def set_group(
        self,
        group: int,
        options: SGDOptions | MomentumOptions | AdamOptions,
        schedule: Schedule | None,
    ) -> None: ...
    def step(
        self,
        grads: Sequence[np.ndarray | None],
        step: int,
        lr_overrides: Sequence[float | None] | None,
        skip_nonfinite: bool,
    ) -> bool: ...

def get_num_threads() -> int: ...
def set_num_threads(threads: int) -> None: ...
def available_cores() -> int: ...
def isa() -> str: ...
def supported_isas() -> list[str]: ...
def select_isa(isa: str) -> bool: ...
def prefetching() -> bool: ...
def set_prefetching(on: bool) -> None: ...
def parallel_threshold() -> int: ...
def set_parallel_threshold(nanoseconds: int) -> None: ...
def chunk_elements() -> int: ...
def set_chunk_elements(elements: int) -> None: ...
def memory_bandwidth(bytes: int, repeats: int) -> float: ...
def divider_rate(dtype: str, repeats: int) -> float: ...

class BandwidthProbe:
    def __init__(self, bytes: int) -> None: ...
    def run(self) -> float: ...
    @property
    def bytes(self) -> int: ...

compiler: str
eigen_version: str

class Schedule:
    def __call__(self, step: int) -> float: ...
    def evaluate(self, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]: ...

class StepDecay(Schedule):
    def __init__(self, lr: float, step_size: int, gamma: float) -> None: ...

class CosineAnnealing(Schedule):
    def __init__(self, lr_max: float, T_max: int, lr_min: float) -> None: ...

class Constant(Schedule):
    def __init__(self, lr: float, factor: float, total_iters: int) -> None: ...

class MultiStep(Schedule):
    def __init__(self, lr: float, milestones: Sequence[int], gamma: float) -> None: ...

class Exponential(Schedule):
    def __init__(self, lr: float, gamma: float) -> None: ...

class Linear(Schedule):
    def __init__(
        self, lr: float, start_factor: float, end_factor: float, total_iters: int
    ) -> None: ...

class Polynomial(Schedule):
    def __init__(self, lr: float, total_iters: int, power: float) -> None: ...

class CosineWarmRestarts(Schedule):
    def __init__(self, lr_max: float, T_0: int, T_mult: int, lr_min: float) -> None: ...

class OneCycle(Schedule):
    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float,
        anneal_strategy: str,
        div_factor: float,
        final_div_factor: float,
        three_phase: bool,
    ) -> None: ...

class Sequential(Schedule):
    def __init__(
        self, schedules: Sequence[Schedule], milestones: Sequence[int]
    ) -> None: ...

class Warmup(Schedule):
    def __init__(
        self, schedule: Schedule, warmup_steps: int, start_factor: float
    ) -> None: ...
