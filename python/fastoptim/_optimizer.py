"""What every optimizer shares: parameter groups, input checks, state and its dicts.

An algorithm subclasses :class:`Optimizer` and declares its hyperparameters, checks a
group's values in ``_check_group``, names its state buffers, and updates one group in
``_update_group``. The native classes and the NumPy reference differ only there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from ._checks import (
    check_flag,
    check_gradients,
    check_no_overlap,
    check_nonnegative,
    check_not_aliased,
    check_parameter,
)
from ._plateau import ReduceLROnPlateau, check_plateau_state


class ParamGroup(dict):  # type: ignore[type-arg]
    """The settings of one group of parameters, as a dict.

    Any change through the dict's methods sets ``changed``, so that the optimizer
    checks the group again before its next step and only then.
    """

    changed: bool = True

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changed = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed = True

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.changed = True

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.changed = True
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self.changed = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.changed = True
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self.changed = True

    def __ior__(self, other: Any) -> ParamGroup:  # type: ignore[misc]
        self.update(other)
        return self


class Optimizer:
    """Base of all optimizers; not meant to be built directly."""

    # Names of the hyperparameters a group holds, in the order of the constructor.
    _hyperparameters: ClassVar[tuple[str, ...]] = ()
    # Names of the state arrays kept per parameter, all shaped like the parameter.
    _buffers: ClassVar[tuple[str, ...]] = ()
    # Whether the state holds a per-parameter count of the updates applied.
    _counts_steps: ClassVar[bool] = False

    def __init__(
        self,
        params: Iterable[Any],
        defaults: Mapping[str, Any],
        *,
        skip_nonfinite: bool = False,
    ) -> None:
        groups = _parse_groups(params, defaults, self._hyperparameters)
        flat = [p for group in groups for p in group["params"]]
        if not flat:
            raise ValueError("params is empty: the optimizer has nothing to update")
        seen: dict[int, int] = {}
        for index, param in enumerate(flat):
            check_parameter(index, param)
            if id(param) in seen:
                raise ValueError(
                    f"params[{index}] is the same array as params[{seen[id(param)]}]"
                )
            seen[id(param)] = index
        check_no_overlap(flat)
        for group in groups:
            self._check_group(group)

        self.param_groups: list[ParamGroup] = groups
        self._group_params = [group["params"] for group in groups]
        self._params = flat
        # One count per parameter: the updates applied to it, where the algorithm
        # keeps them; each group's state holds a view of its share.
        self._counts = np.zeros(len(flat), dtype=np.int64)
        self._group_states = []
        offset = 0
        for group in groups:
            count = len(group["params"])
            self._group_states.append(
                self._new_state(group, self._counts[offset : offset + count])
            )
            offset += count
        self._step_count = 0
        # With skip_nonfinite, a step whose gradients hold an infinite or NaN element
        # changes nothing and is counted here instead.
        self.skip_nonfinite = check_flag("skip_nonfinite", skip_nonfinite)
        self.skipped_steps = 0
        # Held through a step or a load: two threads using one optimizer take turns.
        self._lock = threading.RLock()
        # The ReduceLROnPlateau driving the groups' lr, if any, and the state of one
        # loaded before any was attached, which the next one attached takes over.
        self._plateau: Callable[[], ReduceLROnPlateau | None] = lambda: None
        self._plateau_state: dict[str, Any] | None = None

    @staticmethod
    def _check_group(group: ParamGroup) -> None:
        raise NotImplementedError

    def _new_state(self, group: ParamGroup, counts: np.ndarray) -> dict[str, Any]:
        """Zeroed state for one group: a list per buffer, the step counts if kept."""
        state: dict[str, Any] = {
            name: [self._initial_buffer(group, name, p) for p in group["params"]]
            for name in self._buffers
        }
        if self._counts_steps:
            state["step"] = counts
        return state

    def _initial_buffer(
        self, group: ParamGroup, name: str, param: np.ndarray
    ) -> np.ndarray | None:
        """A buffer allocated at construction, or None for one made when first used."""
        return zeros_like(param)

    def _update_group(
        self,
        group: ParamGroup,
        lr: float,
        grads: list[np.ndarray | None],
        state: dict[str, Any],
    ) -> None:
        raise NotImplementedError

    def step(
        self, grads: list[np.ndarray | None] | tuple[np.ndarray | None, ...]
    ) -> bool:
        """Apply one update to every parameter, in place; return whether it did.

        ``grads`` holds one gradient per parameter, in the order the parameters were
        given (groups one after the other). A gradient must have its parameter's
        dtype and shape and be C-contiguous; it is never cast or copied. A None
        gradient leaves its parameter and its state untouched, like a torch
        parameter whose ``grad`` is None.

        Every gradient and hyperparameter is checked before anything changes: when
        this raises, no parameter and no state has changed. An infinite or NaN
        gradient element flows into the update, as in torch, unless the optimizer
        was built with ``skip_nonfinite=True``: then the step changes nothing, does
        not count as a step, adds one to ``skipped_steps`` and returns False.
        """
        # acquire and release cost half of a with statement, on every step.
        self._lock.acquire()
        try:
            return self._step(grads)
        finally:
            self._lock.release()

    def _step(
        self, grads: list[np.ndarray | None] | tuple[np.ndarray | None, ...]
    ) -> bool:
        self._check_same_parameters()
        check_gradients(self._params, grads)
        check_not_aliased(grads, self._memory_spans())
        lrs = []
        for group in self.param_groups:
            self._check_group(group)
            lrs.append(_lr_at(group["lr"], self._step_count))
        if self.skip_nonfinite and not all(
            np.isfinite(grad).all() for grad in grads if grad is not None
        ):
            self.skipped_steps += 1
            return False

        offset = 0
        for group, lr, state in zip(self.param_groups, lrs, self._group_states):
            count = len(group["params"])
            self._update_group(group, lr, list(grads[offset : offset + count]), state)
            offset += count
        self._step_count += 1
        return True

    def _memory_spans(self) -> list[tuple[int, int, str]]:
        """The byte ranges of the parameters and the state, sorted, with names."""
        spans = []
        index = 0
        for group, state in zip(self.param_groups, self._group_states):
            for position, param in enumerate(group["params"]):
                arrays = [(param, f"params[{index}]")] + [
                    (state[name][position], f"the state of params[{index}]")
                    for name in self._buffers
                    if state[name][position] is not None
                ]
                for array, name in arrays:
                    if array.nbytes:
                        start = array.ctypes.data
                        spans.append((start, start + array.nbytes, name))
                index += 1
        return sorted(spans)

    def _check_same_parameters(self) -> None:
        """Refuse groups or parameters swapped after construction, never checked."""
        if len(self.param_groups) != len(self._group_params):
            raise ValueError(
                f"param_groups has {len(self.param_groups)} groups, built with "
                f"{len(self._group_params)}; build a new optimizer to change them"
            )
        for number, (group, params) in enumerate(
            zip(self.param_groups, self._group_params)
        ):
            if group.get("params") is not params:
                raise ValueError(
                    f"param_groups[{number}]['params'] was replaced; build a new "
                    "optimizer to change the parameters"
                )

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the state, shaped like torch.optim's.

        ``{"state": {index: {"step": int, name: array, ...}}, "param_groups": [...],
        "step": int}``: parameters are numbered across groups in order, each group
        lists the numbers of its parameters, and the top-level ``step`` counts the
        calls to :meth:`step` (the step a schedule given as ``lr`` is evaluated at).
        The arrays are copies: the snapshot does not change as training goes on.
        """
        state: dict[int, dict[str, Any]] = {}
        index = 0
        for group, group_state in zip(self.param_groups, self._group_states):
            for position in range(len(group["params"])):
                entry: dict[str, Any] = {}
                if self._counts_steps:
                    entry["step"] = int(group_state["step"][position])
                for name in self._buffers:
                    buffer = group_state[name][position]
                    if buffer is not None and self._holds_value(index, name):
                        entry[name] = buffer.copy()
                state[index] = entry
                index += 1
        groups = []
        index = 0
        for group in self.param_groups:
            count = len(group["params"])
            saved = dict(group)
            saved["params"] = list(range(index, index + count))
            groups.append(saved)
            index += count
        result = {
            "state": state,
            "param_groups": groups,
            "step": self._step_count,
            "skipped_steps": self.skipped_steps,
        }
        plateau = self._plateau()
        if plateau is not None:
            result["plateau"] = plateau.state_dict()
        elif self._plateau_state is not None:
            result["plateau"] = dict(self._plateau_state)
        return result

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state made by :meth:`state_dict` of an optimizer like this one.

        The arrays are copied into this optimizer's own buffers. Everything is
        checked first: if the state does not fit, this raises and changes nothing.
        """
        with self._lock:
            self._load_state_dict(state_dict)

    def _load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self._check_same_parameters()
        groups, states, step_count = self._checked_state(state_dict)
        plateau_state = None
        if state_dict.get("plateau") is not None:
            try:
                plateau_state = check_plateau_state(
                    state_dict["plateau"], len(self.param_groups)
                )
            except (TypeError, ValueError) as error:
                raise type(error)(f"state_dict['plateau']: {error}") from None

        for group, loaded in zip(self.param_groups, groups):
            for name in self._hyperparameters:
                group[name] = loaded[name]
        offset = 0
        for group, group_state in zip(self.param_groups, self._group_states):
            for position, param in enumerate(group["params"]):
                entry = states.get(offset + position, {})
                if self._counts_steps:
                    group_state["step"][position] = entry.get("step", 0)
                for name in self._buffers:
                    buffers = group_state[name]
                    if name in entry:
                        if buffers[position] is None:
                            buffers[position] = zeros_like(param)
                        np.copyto(buffers[position], entry[name])
                    elif buffers[position] is not None:
                        buffers[position] = self._initial_buffer(group, name, param)
            offset += len(group["params"])
        self._step_count = step_count
        self.skipped_steps = int(state_dict.get("skipped_steps", 0))
        if plateau_state is not None:
            plateau = self._plateau()
            if plateau is not None:
                plateau._restore(plateau_state)
            else:
                self._plateau_state = plateau_state

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state to ``path``, a NumPy ``.npz`` file; nothing is pickled.

        The file is written beside ``path`` and renamed over it, so a crash during
        the save leaves the previous file whole. A schedule given as ``lr`` is saved
        with its arguments; any other callable ``lr`` cannot be, and raises.
        """
        from ._checkpoint import save

        save(self, path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore the state saved by :meth:`save` into this optimizer.

        It must be built like the one that saved it: the same class, groups and
        parameter shapes and dtypes. The parameters themselves are not in the file.
        If anything does not fit, or the file is truncated or corrupted, this
        raises and changes nothing.
        """
        from ._checkpoint import load

        load(self, path)

    def _checked_state(
        self, state_dict: Mapping[str, Any]
    ) -> tuple[list[ParamGroup], dict[int, dict[str, Any]], int]:
        if not isinstance(state_dict, Mapping):
            raise TypeError("state_dict must be a dict")
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"state_dict has no {key!r} entry")
        groups = state_dict["param_groups"]
        if not isinstance(groups, (list, tuple)) or len(groups) != len(
            self.param_groups
        ):
            raise ValueError(
                f"state_dict has {len(groups)} param_groups, this optimizer "
                f"has {len(self.param_groups)}"
            )
        merged_groups = []
        for number, (group, loaded) in enumerate(zip(self.param_groups, groups)):
            count = len(loaded.get("params", ()))
            if count != len(group["params"]):
                raise ValueError(
                    f"param_groups[{number}] has {count} parameters in state_dict, "
                    f"{len(group['params'])} in this optimizer"
                )
            missing = [name for name in self._hyperparameters if name not in loaded]
            if missing:
                raise ValueError(f"param_groups[{number}] has no {missing[0]!r}")
            merged = ParamGroup(params=group["params"])
            merged.update({name: loaded[name] for name in self._hyperparameters})
            try:
                self._check_group(merged)
            except (TypeError, ValueError) as error:
                raise type(error)(f"param_groups[{number}]: {error}") from None
            merged_groups.append(merged)

        step_count = state_dict.get("step", 0)
        if isinstance(step_count, bool) or not isinstance(
            step_count, (int, np.integer)
        ):
            raise TypeError("state_dict['step'] must be an int")
        if step_count < 0:
            raise ValueError(f"state_dict['step'] must be >= 0, got {step_count}")

        states = state_dict["state"]
        if not isinstance(states, Mapping):
            raise TypeError("state_dict['state'] must be a dict")
        known = set(self._buffers) | ({"step"} if self._counts_steps else set())
        group_of = [
            number
            for number, group in enumerate(self.param_groups)
            for _ in group["params"]
        ]
        checked: dict[int, dict[str, Any]] = {}
        for index, entry in states.items():
            where = f"state[{index!r}]"
            if not isinstance(index, (int, np.integer)) or not (
                0 <= index < len(self._params)
            ):
                raise ValueError(f"{where}: no parameter has this index")
            if not isinstance(entry, Mapping):
                raise TypeError(f"{where} must be a dict")
            unknown = set(entry) - known
            if unknown:
                raise ValueError(f"{where} has unknown entry {sorted(unknown)[0]!r}")
            param = self._params[index]
            for name in self._buffers:
                value = entry.get(name)
                if value is None:
                    continue
                if not isinstance(value, np.ndarray):
                    raise TypeError(f"{where}[{name!r}] is not a numpy.ndarray")
                if value.dtype != param.dtype or value.shape != param.shape:
                    raise ValueError(
                        f"{where}[{name!r}] has dtype {value.dtype} and shape "
                        f"{value.shape}; params[{index}] has {param.dtype} and "
                        f"{param.shape}"
                    )
            step = None
            if self._counts_steps:
                if "step" not in entry:
                    raise ValueError(f"{where} has no 'step'")
                step = _whole_count(f"{where}['step']", entry["step"])
            required = self._required_buffers(merged_groups[group_of[int(index)]])
            lacking = [name for name in required if entry.get(name) is None]
            if lacking:
                raise ValueError(f"{where} has no {lacking[0]!r}")
            checked[int(index)] = {k: v for k, v in entry.items() if v is not None}
            if step is not None:
                checked[int(index)]["step"] = step
        return merged_groups, checked, int(step_count)

    def _holds_value(self, index: int, name: str) -> bool:
        """Whether an allocated buffer holds state yet (all do, unless overridden)."""
        return True

    def _required_buffers(self, group: ParamGroup) -> tuple[str, ...]:
        """The buffers a saved state must hold for a parameter of this group."""
        return self._buffers

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            settings = ", ".join(
                f"{name}={group[name]!r}" for name in self._hyperparameters
            )
            lines.append(f"  group {number}: {len(group['params'])} arrays, {settings}")
        return "\n".join(lines + [")"])


def _parse_groups(
    params: Iterable[Any], defaults: Mapping[str, Any], names: tuple[str, ...]
) -> list[ParamGroup]:
    """Turn a list of arrays, or of group dicts, into complete group dicts."""
    if isinstance(params, (np.ndarray, dict)):
        raise TypeError(
            "params must be a list of arrays or of group dicts, "
            f"got a single {type(params).__name__}"
        )
    try:
        items = list(params)
    except TypeError:
        raise TypeError(
            f"params must be a list of arrays or of group dicts, "
            f"got {type(params).__name__}"
        ) from None
    if not items or not all(isinstance(item, Mapping) for item in items):
        if any(isinstance(item, Mapping) for item in items):
            raise TypeError("params mixes arrays and group dicts")
        items = [{"params": items}]

    groups = []
    for number, item in enumerate(items):
        unknown = set(item) - set(names) - {"params"}
        if unknown:
            raise ValueError(
                f"param_groups[{number}] has unknown option {sorted(unknown)[0]!r}; "
                f"options are {', '.join(names)}"
            )
        if "params" not in item:
            raise ValueError(f"param_groups[{number}] has no 'params'")
        group_params = item["params"]
        if isinstance(group_params, np.ndarray):
            group_params = [group_params]
        group = ParamGroup(defaults)
        group.update(item)
        # A tuple: the parameters are fixed when the optimizer is built.
        group["params"] = tuple(group_params)
        groups.append(group)
    return groups


CACHE_LINE = 64


def zeros_like(param: np.ndarray) -> np.ndarray:
    """Zeros shaped like ``param``, starting at its offset within a cache line.

    Threads split a step where the parameter's cache lines begin; state laid out in
    the same phase begins its lines there too, so no two threads write one line.
    """
    spare = CACHE_LINE // param.itemsize
    buffer = np.zeros(param.size + spare, dtype=param.dtype)
    phase = (param.ctypes.data - buffer.ctypes.data) % CACHE_LINE // param.itemsize
    return buffer[phase : phase + param.size].reshape(param.shape)


def _whole_count(name: str, value: Any) -> int:
    """A count of steps: an int, or a whole float or 0-d array as torch saves it."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    count = check_nonnegative(name, value)
    if not count.is_integer():
        raise ValueError(f"{name} must be a whole number, got {count}")
    return int(count)


def _lr_at(lr: float | Callable[[int], float], step: int) -> float:
    """The learning rate of one step: the number itself, or the schedule's value."""
    if not callable(lr):
        return float(lr)
    value = lr(step)
    return check_nonnegative(f"lr at step {step} (from the schedule)", value)
