"""Write tests/golden/schedule_family.npz: torch's closed forms of more schedulers.

For each case, the closed form torch.optim.lr_scheduler gives for t = 0 .. STEPS-1
(``_get_closed_form_lr``), as float64, with the case's arguments as JSON.

Requires torch: python tests/golden/make_schedule_family.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

STEPS = 3000
LR = 0.1
# (name, torch scheduler, its arguments, fastoptim's arguments besides lr)
CASES = [
    (
        "constant",
        "ConstantLR",
        {"factor": 0.25, "total_iters": 40},
        {"factor": 0.25, "total_iters": 40},
    ),
    ("constant-default", "ConstantLR", {}, {"factor": 1.0 / 3, "total_iters": 5}),
    (
        "multistep",
        "MultiStepLR",
        {"milestones": [30, 80, 80, 500], "gamma": 0.5},
        {"milestones": [30, 80, 80, 500], "gamma": 0.5},
    ),
    ("exponential", "ExponentialLR", {"gamma": 0.999}, {"gamma": 0.999}),
    ("exponential-fast", "ExponentialLR", {"gamma": 0.9}, {"gamma": 0.9}),
    (
        "linear",
        "LinearLR",
        {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 250},
        {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 250},
    ),
    (
        "linear-down",
        "LinearLR",
        {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 1000},
        {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 1000},
    ),
    (
        "polynomial",
        "PolynomialLR",
        {"total_iters": 700, "power": 2.0},
        {"total_iters": 700, "power": 2.0},
    ),
    (
        "polynomial-linear",
        "PolynomialLR",
        {"total_iters": 50, "power": 1.0},
        {"total_iters": 50, "power": 1.0},
    ),
]


def closed_form(scheduler_name, arguments):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=LR)
    scheduler = getattr(torch.optim.lr_scheduler, scheduler_name)(
        optimizer, **arguments
    )
    values = np.empty(STEPS)
    for t in range(STEPS):
        scheduler.last_epoch = t
        values[t] = scheduler._get_closed_form_lr()[0]
    return values


def main():
    out = {"torch_version": np.array(torch.__version__), "lr": np.array(LR)}
    index = []
    for name, scheduler, arguments, ours in CASES:
        out[f"{name}/closed_form"] = closed_form(scheduler, arguments)
        index.append({"name": name, "torch": scheduler, "arguments": ours})
    out["cases"] = np.array(json.dumps(index))
    path = Path(__file__).with_name("schedule_family.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
