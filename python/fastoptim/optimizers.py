"""The optimizers, updating NumPy arrays in place with fastoptim's compiled kernels."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._algorithms import AdamBase, AdamWBase, MomentumBase, SGDBase
from ._optimizer import ParamGroup

__all__ = ["SGD", "Momentum", "Adam", "AdamW"]


class SGD(SGDBase):
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

    def _update_group(
        self,
        group: ParamGroup,
        lr: float,
        grads: list[np.ndarray | None],
        state: dict[str, Any],
    ) -> None:
        buffers = None
        first_steps = None
        if group["momentum"] != 0:
            buffers = state["momentum_buffer"]
            first_steps = [
                grad is not None and buffer is None
                for grad, buffer in zip(grads, buffers)
            ]
            for position, first in enumerate(first_steps):
                if first:
                    buffers[position] = np.empty_like(group["params"][position])
        options = _core.SGDOptions(
            lr=lr,
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        _core.sgd(group["params"], grads, buffers, first_steps, options)


class Momentum(MomentumBase):
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

    def _update_group(
        self,
        group: ParamGroup,
        lr: float,
        grads: list[np.ndarray | None],
        state: dict[str, Any],
    ) -> None:
        options = _core.MomentumOptions(
            lr=lr, gamma=group["gamma"], nesterov=group["nesterov"]
        )
        _core.momentum(group["params"], grads, state["velocity"], options)


def _adam_update(
    self: AdamBase,
    group: ParamGroup,
    lr: float,
    grads: list[np.ndarray | None],
    state: dict[str, Any],
) -> None:
    beta1, beta2 = group["betas"]
    options = _core.AdamOptions(
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=group["eps"],
        weight_decay=group["weight_decay"],
        amsgrad=group["amsgrad"],
        maximize=group["maximize"],
        decoupled_weight_decay=self._decoupled_weight_decay,
    )
    _core.adam(
        group["params"],
        grads,
        state["exp_avg"],
        state["exp_avg_sq"],
        self._amsgrad_buffers(group, group["params"], state),
        state["step"],
        options,
    )


class Adam(AdamBase):
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

    _update_group = _adam_update


class AdamW(AdamWBase):
    r"""Adam with decoupled weight decay, exactly as torch.optim.AdamW.

    The same update as :class:`Adam`, except that the decay shrinks the parameter
    before the update instead of being added to the gradient:

    .. math::

        \theta \leftarrow \theta (1 - \eta\lambda)

    and the default ``weight_decay`` is 0.01.
    """

    _update_group = _adam_update
