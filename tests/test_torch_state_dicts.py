"""State dicts move between torch.optim and fastoptim, and runs go on alike.

The golden file holds torch's state dicts and torch's next steps (written by
tests/golden/make_state_dicts.py), so the torch-to-fastoptim direction needs no
torch; the reverse direction runs when torch is installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import fastoptim as fo

GOLDEN = Path(__file__).resolve().parent / "golden" / "state_dicts.npz"
AFTER = 6

with np.load(GOLDEN, allow_pickle=False) as _data:
    DATA = {key: _data[key] for key in _data.files}
KEYS = sorted({key.split("/")[0] for key in DATA if "/" in key})


def case(key):
    count = sum(1 for k in DATA if k.startswith(f"{key}/start/"))
    start = [DATA[f"{key}/start/{i}"].copy() for i in range(count)]
    coefficients = [(DATA[f"{key}/a/{i}"], DATA[f"{key}/c/{i}"]) for i in range(count)]
    state = {}
    for name, value in DATA.items():
        if name.startswith(f"{key}/state/"):
            _, _, index, field = name.split("/")
            state.setdefault(int(index), {})[field] = value
    groups = json.loads(str(DATA[f"{key}/groups"]))
    end = [DATA[f"{key}/end/{i}"] for i in range(count)]
    return str(DATA[f"{key}/optimizer"]), start, coefficients, state, groups, end


def gradients(params, coefficients):
    """The gradient torch was given: a * p + c in float64, cast to the dtype."""
    return [
        (a * p.astype(np.float64) + c).astype(p.dtype)
        for p, (a, c) in zip(params, coefficients)
    ]


def hyperparameters(group, names):
    return {name: group[name] for name in names if name in group}


def assert_close(got, want):
    for a, b in zip(got, want):
        if a.dtype == np.float64:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        else:
            # torch's vectorised kernels fuse some multiply-adds that fastoptim
            # rounds twice: measured at most 1 ulp of an O(1) value over these runs.
            ulp = np.spacing(np.maximum(np.abs(b), np.float32(0.25)))
            assert np.max(np.abs(a - b) / ulp) <= 4


@pytest.mark.parametrize("key", KEYS)
def test_torch_state_dict_loads_and_the_run_goes_on(key):
    name, params, coefficients, state, groups, end = case(key)
    cls = getattr(fo, name)
    hyper = hyperparameters(groups[0], cls._hyperparameters)
    opt = cls(params, **hyper)

    opt.load_state_dict({"state": state, "param_groups": groups})
    for _ in range(AFTER):
        opt.step(gradients(params, coefficients))

    assert_close(params, end)


@pytest.mark.parametrize("key", KEYS)
def test_fastoptim_state_dict_loads_into_torch(key):
    torch = pytest.importorskip("torch")
    name, params, coefficients, state, groups, _ = case(key)
    cls = getattr(fo, name)
    hyper = hyperparameters(groups[0], cls._hyperparameters)
    opt = cls(params, **hyper)
    opt.load_state_dict({"state": state, "param_groups": groups})
    for _ in range(2):
        opt.step(gradients(params, coefficients))

    saved = opt.state_dict()
    tensors = [torch.tensor(p) for p in params]
    torch_opt = getattr(torch.optim, name)(tensors, **hyper)
    torch_opt.load_state_dict(
        {
            "state": {
                index: {field: torch.as_tensor(value) for field, value in entry.items()}
                for index, entry in saved["state"].items()
            },
            "param_groups": saved["param_groups"],
        }
    )
    for _ in range(AFTER):
        for t, g in zip(tensors, gradients([t.numpy() for t in tensors], coefficients)):
            t.grad = torch.from_numpy(g)
        torch_opt.step()
        opt.step(gradients(params, coefficients))

    assert_close(params, [t.numpy() for t in tensors])
