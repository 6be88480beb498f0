"""Write tests/golden/state_dicts.npz: torch.optim state dicts and what follows them.

For each case, torch takes BEFORE steps, its state dict is stored (tensors as
arrays, groups as JSON) with the parameters, and then torch takes AFTER more steps,
whose parameters are stored too. A test loads the state dict into fastoptim and
checks that it goes on as torch did, with no torch installed.

Requires torch: python tests/golden/make_state_dicts.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

BEFORE = 6
AFTER = 6
SHAPES = [(5,), (2, 3)]
CASES = {
    "sgd-momentum": ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}),
    "sgd-nesterov": (
        "SGD",
        {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    ),
    "adam": ("Adam", {"lr": 0.01}),
    "adam-amsgrad": ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    "adamw": ("AdamW", {"lr": 0.01, "weight_decay": 0.05}),
}


def gradient(param, a, c):
    """a * p + c, in float64 with one multiply and one add: the same on any CPU."""
    return a * param.astype(np.float64) + c


def main():
    rng = np.random.default_rng(2026)
    out = {"torch_version": np.array(torch.__version__)}
    for case, (name, hyper) in CASES.items():
        for dtype in (np.float32, np.float64):
            key = f"{case}-{np.dtype(dtype).name}"
            start = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
            a = [rng.uniform(0.5, 2.0, s) for s in SHAPES]
            c = [rng.uniform(-1.0, 1.0, s) for s in SHAPES]
            tensors = [torch.tensor(p) for p in start]
            opt = getattr(torch.optim, name)(tensors, **hyper)

            def run(count):
                for _ in range(count):
                    for t, ai, ci in zip(tensors, a, c):
                        g = gradient(t.detach().numpy(), ai, ci).astype(dtype)
                        t.grad = torch.from_numpy(g)
                    opt.step()

            run(BEFORE)
            state = opt.state_dict()
            for index, p in enumerate(tensors):
                out[f"{key}/start/{index}"] = p.detach().numpy().copy()
                out[f"{key}/a/{index}"] = a[index]
                out[f"{key}/c/{index}"] = c[index]
            for index, entry in state["state"].items():
                for field, value in entry.items():
                    out[f"{key}/state/{index}/{field}"] = value.numpy().copy()
            out[f"{key}/groups"] = np.array(json.dumps(state["param_groups"]))
            out[f"{key}/optimizer"] = np.array(name)
            run(AFTER)
            for index, p in enumerate(tensors):
                out[f"{key}/end/{index}"] = p.detach().numpy().copy()
    path = Path(__file__).with_name("state_dicts.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
