"""The optimizers, updating NumPy arrays in place with fastoptim's compiled kernels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from . import _core, schedules
from ._algorithms import AdamBase, AdamWBase, MomentumBase, SGDBase
from ._checks import check_nonnegative
from ._optimizer import Optimizer, ParamGroup, zeros_like

__all__ = ["SGD", "Momentum", "Adam", "AdamW"]


class NativeOptimizer(Optimizer):
    """An optimizer whose steps run in the compiled engine, one call per step.

    The engine holds the addresses of the parameters and of the state, given once. A
    group's settings are checked and handed to it again only after they change; a
    schedule from :mod:`fastoptim.schedules` is evaluated inside the step call, any
    other callable learning rate in Python just before it.
    """

    _algorithm: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._python_lrs: list[tuple[int, Callable[[int], float]]] = []
        self._build_engine()

    def _options(self, group: ParamGroup, lr: float) -> Any:
        raise NotImplementedError

    def _needed_buffers(self, group: ParamGroup) -> tuple[str, ...]:
        """The buffers the group's settings update, which must exist before a step."""
        return self._buffers

    def _build_engine(self) -> None:
        buffers = [
            [buffer for state in self._group_states for buffer in state[name]]
            for name in self._buffers
        ]
        groups = [
            n for n, group in enumerate(self.param_groups) for _ in group["params"]
        ]
        self._engine = _core.Engine(
            self._algorithm,
            self._params,
            buffers,
            groups,
            len(self.param_groups),
            self._counts,
        )
        for group in self.param_groups:
            group.changed = True

    def _apply_changes(self) -> None:
        self._check_same_parameters()
        for number, group in enumerate(self.param_groups):
            if not isinstance(group, ParamGroup):
                # A plain dict put in place of a group: track its changes from now on.
                group = self.param_groups[number] = ParamGroup(group)
            if group.changed:
                self._check_group(group)
        allocated = False
        for group, state in zip(self.param_groups, self._group_states):
            if not group.changed:
                continue
            for name in self._needed_buffers(group):
                buffers = state[name]
                for position, param in enumerate(group["params"]):
                    if buffers[position] is None:
                        buffers[position] = zeros_like(param)
                        allocated = True
        if allocated:
            self._build_engine()

        self._python_lrs = []
        for number, group in enumerate(self.param_groups):
            lr = group["lr"]
            native = lr._core if isinstance(lr, schedules.NativeSchedule) else None
            if callable(lr) and native is None:
                self._python_lrs.append((number, lr))
            if group.changed:
                # A list could be changed in place, unseen; a tuple cannot.
                for key, value in group.items():
                    if isinstance(value, list) and key != "params":
                        dict.__setitem__(group, key, tuple(value))
                base = 0.0 if callable(lr) else float(lr)
                self._engine.set_group(number, self._options(group, base), native)
                group.changed = False

    def _step(
        self, grads: list[np.ndarray | None] | tuple[np.ndarray | None, ...]
    ) -> bool:
        # Replacing a group's parameters marks it changed, and changed groups are
        # checked in full, so only the number of groups needs a look every step.
        groups = self.param_groups
        if len(groups) != len(self._group_params):
            self._check_same_parameters()
        for group in groups:
            if getattr(group, "changed", True):
                self._apply_changes()
                break
        overrides: list[float | None] | None = None
        if self._python_lrs:
            overrides = [None] * len(self.param_groups)
            for number, schedule in self._python_lrs:
                overrides[number] = check_nonnegative(
                    f"lr at step {self._step_count} (from the schedule)",
                    schedule(self._step_count),
                )
        if not self._engine.step(
            grads, self._step_count, overrides, self.skip_nonfinite
        ):
            self.skipped_steps += 1
            return False
        self._step_count += 1
        return True

    def _load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        super()._load_state_dict(state_dict)
        # Loading may replace buffers: hand the engine the arrays now in use.
        self._build_engine()


class SGD(NativeOptimizer, SGDBase):
    r"""Stochastic gradient descent with optional momentum, exactly as torch.optim.SGD.

    For each parameter :math:`\theta` with gradient :math:`g`, learning rate
    :math:`\eta` (``lr``), momentum :math:`\mu`, dampening :math:`\tau` and weight
    decay :math:`\lambda`:

    .. math::

        g &\leftarrow \pm g + \lambda\theta
            \quad (- \text{ if } \texttt{maximize}) \\
        b &\leftarrow \begin{cases} g & \text{first step with momentum} \\
            \mu b + (1 - \tau) g & \text{after} \end{cases} \\
        d &= \begin{cases} g + \mu b & \texttt{nesterov} \\
            b & \text{otherwise} \end{cases}
            \quad (d = g \text{ when } \mu = 0) \\
        \theta &\leftarrow \theta - \eta d

    Args:
        params: arrays to update in place (C-contiguous, writeable, float32 or
            float64), or a list of group dicts ``{"params": [...], option: value}``
            whose options override the defaults below.
        lr: learning rate :math:`\eta`, or a schedule evaluated at each step.
        momentum: :math:`\mu \ge 0`; 0 keeps no buffer.
        dampening: :math:`\tau \in [0, 1]`, applied from the second step on.
        nesterov: use the look-ahead :math:`g + \mu b`; needs momentum and no
            dampening.
        weight_decay: :math:`\lambda \ge 0`, added to the gradient (L2).
        maximize: ascend instead of descend.

    The state of a parameter is ``momentum_buffer`` (absent until the first step
    with momentum).
    """

    _algorithm = "sgd"

    # The engine keeps, as each parameter's count, whether its momentum buffer holds
    # a value yet: as in torch, the first step with momentum sets it to the gradient.
    def _initial_buffer(
        self, group: ParamGroup, name: str, param: np.ndarray
    ) -> np.ndarray | None:
        return zeros_like(param) if group["momentum"] != 0 else None

    def _needed_buffers(self, group: ParamGroup) -> tuple[str, ...]:
        return self._buffers if group["momentum"] != 0 else ()

    def _holds_value(self, index: int, name: str) -> bool:
        return bool(self._counts[index])

    def _options(self, group: ParamGroup, lr: float) -> Any:
        return _core.SGDOptions(
            lr=lr,
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )

    def _load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        super()._load_state_dict(state_dict)
        states = state_dict["state"]
        for index in range(len(self._params)):
            entry = states.get(index, {})
            self._counts[index] = entry.get("momentum_buffer") is not None


class Momentum(NativeOptimizer, MomentumBase):
    r"""Momentum whose velocity carries the learning rate (the textbook form).

    For each parameter :math:`\theta` with gradient :math:`g`, learning rate
    :math:`\eta` (``lr``) and momentum :math:`\gamma` (``gamma``):

    .. math::

        v &\leftarrow \gamma v + \eta g \\
        \theta &\leftarrow \begin{cases} \theta - (\gamma v + \eta g)
            & \texttt{nesterov} \\ \theta - v & \text{otherwise} \end{cases}

    with :math:`v` starting at zero. This is the form of Keras's SGD and of most
    textbooks.

    .. warning::
        torch.optim.SGD keeps :math:`\eta` outside the buffer
        (:math:`b \leftarrow \mu b + g`, :math:`\theta \leftarrow \theta - \eta b`)
        and starts it at the first gradient. With a constant learning rate the two
        forms make the same updates (:math:`v = \eta b`); when :math:`\eta`
        changes, as under a schedule, they differ: here a new learning rate scales
        only the gradients that come after it, not the velocity already gathered.

    Args:
        params: arrays to update in place, or a list of group dicts.
        lr: learning rate :math:`\eta`, or a schedule evaluated at each step.
        gamma: :math:`\gamma \in [0, 1)`, the fraction of the velocity kept.
        nesterov: take the look-ahead step :math:`\gamma v + \eta g`.

    The state of a parameter is ``velocity``.
    """

    _algorithm = "momentum"

    def _options(self, group: ParamGroup, lr: float) -> Any:
        return _core.MomentumOptions(
            lr=lr, gamma=group["gamma"], nesterov=group["nesterov"]
        )


def _adam_options(self: AdamBase, group: ParamGroup, lr: float) -> Any:
    beta1, beta2 = group["betas"]
    return _core.AdamOptions(
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=group["eps"],
        weight_decay=group["weight_decay"],
        amsgrad=group["amsgrad"],
        maximize=group["maximize"],
        decoupled_weight_decay=self._decoupled_weight_decay,
    )


class Adam(NativeOptimizer, AdamBase):
    r"""Adam, exactly as torch.optim.Adam (and the update of Kingma & Ba).

    For each parameter :math:`\theta` with gradient :math:`g` at step
    :math:`t = 1, 2, \ldots`, with :math:`\eta` (``lr``), :math:`\beta_1, \beta_2`
    (``betas``), :math:`\epsilon` (``eps``) and :math:`\lambda` (``weight_decay``):

    .. math::

        g &\leftarrow \pm g + \lambda\theta
            \quad (- \text{ if } \texttt{maximize}) \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat v &= \max(\hat v_{\max}, v) \text{ if } \texttt{amsgrad}
            \text{ (kept as } \hat v_{\max}\text{), else } v \\
        \theta &\leftarrow \theta - \frac{\eta}{1 - \beta_1^t}
            \frac{m}{\sqrt{\hat v} / \sqrt{1 - \beta_2^t} + \epsilon}

    which is :math:`\theta - \eta\, \hat m / (\sqrt{\hat v_t} + \epsilon)` with the
    bias-corrected moments :math:`\hat m = m / (1 - \beta_1^t)`,
    :math:`\hat v_t = v / (1 - \beta_2^t)`. The moments start at zero; :math:`t`
    counts the updates of each parameter. The scalar factors are computed in double
    precision and rounded once to the parameter's dtype, in torch's order.

    Args:
        params: arrays to update in place, or a list of group dicts.
        lr: learning rate :math:`\eta`, or a schedule evaluated at each step.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon \ge 0`, added after the square root.
        weight_decay: :math:`\lambda \ge 0`, added to the gradient (L2); see
            :class:`AdamW` for decoupled decay.
        amsgrad: use the running maximum of :math:`v`.
        maximize: ascend instead of descend.

    The state of a parameter is ``step``, ``exp_avg`` (:math:`m`), ``exp_avg_sq``
    (:math:`v`) and, with AMSGrad, ``max_exp_avg_sq``.
    """

    _algorithm = "adam"
    _options = _adam_options
    _needed_buffers = AdamBase._required_buffers


class AdamW(NativeOptimizer, AdamWBase):
    r"""Adam with decoupled weight decay, exactly as torch.optim.AdamW.

    The same update as :class:`Adam`, except that the decay shrinks the parameter
    before the update instead of being added to the gradient:

    .. math::

        \theta \leftarrow \theta (1 - \eta\lambda)

    and the default ``weight_decay`` is 0.01.
    """

    _algorithm = "adam"
    _options = _adam_options
    _needed_buffers = AdamBase._required_buffers
