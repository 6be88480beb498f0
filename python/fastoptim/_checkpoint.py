"""Checkpoints: an optimizer's state in one NumPy ``.npz`` file, nothing pickled.

The file holds a format tag, the optimizer's class name, the count of steps, the
settings of every group as JSON (a schedule given as ``lr`` is written as its class
and arguments) and one array per state entry, named ``state/<index>/<name>``.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import schedules
from ._schedule import Schedule
from .reference import schedules as reference_schedules

if TYPE_CHECKING:
    from ._optimizer import Optimizer

FORMAT = "fastoptim-optimizer-1"

_SCHEDULE_MODULES = {
    "fastoptim.schedules": schedules,
    "fastoptim.reference.schedules": reference_schedules,
}


def save(optimizer: Optimizer, path: str | os.PathLike[str]) -> None:
    state = optimizer.state_dict()
    groups = []
    for number, group in enumerate(state["param_groups"]):
        saved = {key: value for key, value in group.items() if key != "params"}
        saved["lr"] = _encode_lr(group["lr"], number)
        saved["params"] = group["params"]
        groups.append(saved)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "optimizer": np.array(type(optimizer).__name__),
        "step": np.array(state["step"], dtype=np.int64),
        "skipped_steps": np.array(state["skipped_steps"], dtype=np.int64),
        "param_groups": np.array(json.dumps(groups)),
    }
    if "plateau" in state:
        arrays["plateau"] = np.array(json.dumps(state["plateau"]))
    for index, entry in state["state"].items():
        for name, value in entry.items():
            arrays[f"state/{index}/{name}"] = np.asarray(value)

    # Written beside the target and renamed over it: a crash mid-save leaves the
    # previous checkpoint whole, and a reader never sees half a file.
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    handle, temporary = tempfile.mkstemp(
        prefix=os.path.basename(target) + ".", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)  # type: ignore[arg-type]
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def load(optimizer: Optimizer, path: str | os.PathLike[str]) -> None:
    target = os.fspath(path)
    try:
        # Opened here, so the file is closed even when NumPy fails to parse it.
        with open(target, "rb") as stream, np.load(stream, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot read checkpoint {target!r}: {error}") from None

    for key in ("format", "optimizer", "step", "param_groups"):
        if key not in arrays:
            raise ValueError(f"checkpoint {target!r} has no {key!r}")
    if str(arrays["format"]) != FORMAT:
        raise ValueError(
            f"checkpoint {target!r} has format {str(arrays['format'])!r}, "
            f"expected {FORMAT!r}"
        )
    saved_by = str(arrays["optimizer"])
    if saved_by != type(optimizer).__name__:
        raise ValueError(
            f"checkpoint {target!r} holds the state of {saved_by}, "
            f"not of {type(optimizer).__name__}"
        )
    try:
        groups = json.loads(str(arrays["param_groups"]))
    except json.JSONDecodeError as error:
        raise ValueError(f"checkpoint {target!r}: bad param_groups: {error}") from None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise ValueError(f"checkpoint {target!r}: param_groups is not a list of dicts")
    for number, group in enumerate(groups):
        group["lr"] = _decode_lr(group.get("lr"), number)
        if "betas" in group and isinstance(group["betas"], list):
            group["betas"] = tuple(group["betas"])

    state: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        if not key.startswith("state/"):
            continue
        parts = key.split("/")
        if len(parts) != 3 or not parts[1].isdigit():
            raise ValueError(f"checkpoint {target!r} has a bad entry {key!r}")
        entry = state.setdefault(int(parts[1]), {})
        entry[parts[2]] = int(value) if parts[2] == "step" else value

    loaded = {
        "state": state,
        "param_groups": groups,
        "step": int(arrays["step"]),
        "skipped_steps": int(arrays.get("skipped_steps", 0)),
    }
    if "plateau" in arrays:
        try:
            loaded["plateau"] = json.loads(str(arrays["plateau"]))
        except json.JSONDecodeError as error:
            raise ValueError(f"checkpoint {target!r}: bad plateau: {error}") from None
    optimizer.load_state_dict(loaded)


def _encode_lr(lr: Any, number: int) -> Any:
    if isinstance(lr, Schedule):
        return _encode_schedule(lr, f"param_groups[{number}]['lr']")
    if callable(lr):
        raise TypeError(
            f"param_groups[{number}]['lr'] is a callable that a checkpoint cannot "
            "hold; use a schedule from fastoptim.schedules, or save the state_dict"
        )
    return lr


def _encode_schedule(schedule: Schedule, where: str) -> dict[str, Any]:
    """The schedule's class and settings as JSON, its parts written the same way."""
    module = type(schedule).__module__
    if module not in _SCHEDULE_MODULES:
        raise TypeError(
            f"{where} is a {type(schedule).__name__} from {module}, which a "
            "checkpoint cannot hold"
        )
    return {
        "schedule": type(schedule).__name__,
        "module": module,
        "settings": {
            name: _convert_parts(value, f"{where}.{name}", Schedule, _encode_schedule)
            for name, value in schedule._settings()
        },
    }


def _decode_lr(lr: Any, number: int) -> Any:
    if not isinstance(lr, dict):
        return lr
    return _decode_schedule(lr, f"param_groups[{number}]['lr']")


def _decode_schedule(encoded: dict[str, Any], where: str) -> Schedule:
    module = _SCHEDULE_MODULES.get(encoded.get("module", ""))
    name = encoded.get("schedule", "")
    cls = getattr(module, name, None) if module and name in module.__all__ else None
    if not (
        isinstance(cls, type) and issubclass(cls, Schedule) and cls is not Schedule
    ):
        raise ValueError(f"{where} names an unknown schedule {name!r}")
    settings = encoded.get("settings", {})
    if not isinstance(settings, dict):
        raise ValueError(f"{where} has settings that are not a dict")
    arguments = {
        key: _convert_parts(value, f"{where}.{key}", dict, _decode_schedule)
        for key, value in settings.items()
    }
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


def _convert_parts(
    value: Any, where: str, part: type, convert: Callable[[Any, str], Any]
) -> Any:
    """A setting with each part schedule in it, alone or in a list, converted."""
    if isinstance(value, part):
        return convert(value, where)
    if isinstance(value, list):
        return [
            _convert_parts(item, f"{where}[{i}]", part, convert)
            for i, item in enumerate(value)
        ]
    return value
