"""Write tests/golden/schedule_family.npz: torch's learning rates for more schedulers.

For each case of CASES, the closed form torch.optim.lr_scheduler gives for
t = 0 .. STEPS-1 (``_get_closed_form_lr``). For each case of STEPPED, which have no
closed form there (or whose ``step(epoch)`` form errs), the rates torch sets when
``scheduler.step()`` follows each ``optimizer.step()``; for those composed by
SequentialLR, also the closed forms of the parts, each counted from its milestone.
For each case of PLATEAU, the rates of two groups after each
``ReduceLROnPlateau.step(metric)``. All float64, with fastoptim's equivalent
described in JSON.

Requires torch: python tests/golden/make_schedule_family.py
"""

from __future__ import annotations

import json
import warnings
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


# (name, the torch schedulers in order, milestones for SequentialLR or None, steps,
#  fastoptim's schedule as {"schedule": class, "settings": {...}}, parts nested so)
def _spec(name, **settings):
    return {"schedule": name, "settings": settings}


STEPPED = [
    (
        "warm-restarts",
        [("CosineAnnealingWarmRestarts", {"T_0": 10})],
        None,
        STEPS,
        _spec("CosineWarmRestarts", lr_max=LR, T_0=10),
    ),
    (
        "warm-restarts-mult3",
        [("CosineAnnealingWarmRestarts", {"T_0": 1, "T_mult": 3, "eta_min": 0.001})],
        None,
        STEPS,
        _spec("CosineWarmRestarts", lr_max=LR, T_0=1, T_mult=3, lr_min=0.001),
    ),
    (
        "warm-restarts-mult2",
        [("CosineAnnealingWarmRestarts", {"T_0": 7, "T_mult": 2})],
        None,
        STEPS,
        _spec("CosineWarmRestarts", lr_max=LR, T_0=7, T_mult=2),
    ),
    (
        "one-cycle",
        [("OneCycleLR", {"max_lr": LR, "total_steps": STEPS - 1})],
        None,
        STEPS,
        _spec("OneCycle", max_lr=LR, total_steps=STEPS - 1),
    ),
    (
        "one-cycle-linear",
        [
            (
                "OneCycleLR",
                {
                    "max_lr": LR,
                    "total_steps": 1000,
                    "pct_start": 0.25,
                    "anneal_strategy": "linear",
                    "div_factor": 10.0,
                    "final_div_factor": 100.0,
                },
            )
        ],
        None,
        1001,
        _spec(
            "OneCycle",
            max_lr=LR,
            total_steps=1000,
            pct_start=0.25,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    (
        "one-cycle-three-phase",
        [("OneCycleLR", {"max_lr": LR, "total_steps": 2000, "three_phase": True})],
        None,
        2001,
        _spec("OneCycle", max_lr=LR, total_steps=2000, three_phase=True),
    ),
    (
        "warmup-cosine",
        [
            ("LinearLR", {"start_factor": 0.1, "total_iters": 100}),
            ("CosineAnnealingLR", {"T_max": 2000, "eta_min": 0.001}),
        ],
        [100],
        STEPS,
        _spec(
            "Warmup",
            schedule=_spec("CosineAnnealing", lr_max=LR, T_max=2000, lr_min=0.001),
            warmup_steps=100,
            start_factor=0.1,
        ),
    ),
    (
        "warmup-step",
        [
            ("LinearLR", {"start_factor": 0.25, "total_iters": 50}),
            ("StepLR", {"step_size": 300, "gamma": 0.5}),
        ],
        [50],
        STEPS,
        _spec(
            "Warmup",
            schedule=_spec("StepDecay", lr=LR, step_size=300, gamma=0.5),
            warmup_steps=50,
            start_factor=0.25,
        ),
    ),
    (
        "sequential",
        [
            ("ExponentialLR", {"gamma": 0.995}),
            ("StepLR", {"step_size": 150, "gamma": 0.5}),
            ("CosineAnnealingLR", {"T_max": 1000, "eta_min": 0.002}),
        ],
        [400, 1200],
        2200,
        _spec(
            "Sequential",
            schedules=[
                _spec("Exponential", lr=LR, gamma=0.995),
                _spec("StepDecay", lr=LR, step_size=150, gamma=0.5),
                _spec("CosineAnnealing", lr_max=LR, T_max=1000, lr_min=0.002),
            ],
            milestones=[400, 1200],
        ),
    ),
]

# (name, ReduceLROnPlateau's arguments, which fastoptim's takes as they are)
PLATEAU = [
    ("plateau-default", {}),
    (
        "plateau-max-abs",
        {
            "mode": "max",
            "factor": 0.5,
            "patience": 2,
            "threshold": 0.01,
            "threshold_mode": "abs",
            "cooldown": 3,
            "min_lr": [0.004, 0.0],
        },
    ),
    ("plateau-eps", {"factor": 0.9, "patience": 0, "eps": 1e-3}),
]
PLATEAU_LRS = [LR, 0.03]


def plateau_metrics(count=400):
    """A noisy loss curve that improves, stalls, and improves again."""
    rng = np.random.default_rng(7)
    t = np.arange(count)
    trend = 1.0 / (1.0 + 0.02 * t) + 0.2 * (t > 200) * np.exp(-(t - 200) / 50.0)
    return trend + 0.01 * rng.standard_normal(count)


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


def stepped(schedulers, milestones, steps):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=LR)
    built = [
        getattr(torch.optim.lr_scheduler, name)(optimizer, **arguments)
        for name, arguments in schedulers
    ]
    if milestones is None:
        (scheduler,) = built
    else:
        scheduler = torch.optim.lr_scheduler.SequentialLR(
            optimizer, built, milestones=milestones
        )
    values = np.empty(steps)
    values[0] = optimizer.param_groups[0]["lr"]
    with warnings.catch_warnings():
        # SequentialLR steps each new scheduler with an epoch, which torch deprecates.
        warnings.simplefilter("ignore")
        for t in range(1, steps):
            optimizer.step()
            scheduler.step()
            values[t] = optimizer.param_groups[0]["lr"]
    return values


def joined_closed_form(schedulers, milestones, steps):
    """Each scheduler's closed form counted from its milestone, as optax joins them."""
    parts = []
    for name, arguments in schedulers:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
        parts.append(getattr(torch.optim.lr_scheduler, name)(optimizer, **arguments))
    starts = [0, *milestones]
    values = np.empty(steps)
    for t in range(steps):
        index = int(np.searchsorted(milestones, t, side="right"))
        parts[index].last_epoch = t - starts[index]
        values[t] = parts[index]._get_closed_form_lr()[0]
    return values


def plateau(arguments, metrics):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in PLATEAU_LRS]
    optimizer = torch.optim.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(params, PLATEAU_LRS)]
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **arguments)
    values = np.empty((len(metrics), len(PLATEAU_LRS)))
    for t, metric in enumerate(metrics):
        optimizer.step()
        scheduler.step(float(metric))
        values[t] = [group["lr"] for group in optimizer.param_groups]
    return values


def main():
    out = {"torch_version": np.array(torch.__version__), "lr": np.array(LR)}
    index = []
    for name, scheduler, arguments, ours in CASES:
        out[f"{name}/closed_form"] = closed_form(scheduler, arguments)
        index.append({"name": name, "torch": scheduler, "arguments": ours})
    out["cases"] = np.array(json.dumps(index))
    index = []
    for name, schedulers, milestones, steps, ours in STEPPED:
        out[f"{name}/stepped"] = stepped(schedulers, milestones, steps)
        if milestones is not None:
            closed = joined_closed_form(schedulers, milestones, steps)
            out[f"{name}/closed_form"] = closed
        index.append({"name": name, "schedule": ours})
    out["stepped_cases"] = np.array(json.dumps(index))
    metrics = plateau_metrics()
    out["plateau_metrics"] = metrics
    out["plateau_lrs"] = np.array(PLATEAU_LRS)
    index = []
    for name, arguments in PLATEAU:
        out[f"{name}/lrs"] = plateau(arguments, metrics)
        index.append({"name": name, "arguments": arguments})
    out["plateau_cases"] = np.array(json.dumps(index))
    path = Path(__file__).with_name("schedule_family.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
