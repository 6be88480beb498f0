"""Write the torch.optim golden trajectories that tests/test_torch_parity.py replays.

Run ``python tests/golden/make_golden.py`` with torch installed. It rewrites
``sgd.npz``, ``adam.npz``, ``adamw.npz`` and ``schedules.npz`` beside this file.

Each optimizer file holds a JSON index of its runs under the key ``cases`` and,
for every run ``<id>`` and parameter ``<i>``, the arrays ``<id>/init/<i>`` (the
starting values), ``<id>/a/<i>``, ``<id>/b/<i>``, ``<id>/c/<i>`` (float64 loss
coefficients), ``<id>/grad0/<i>`` (the first gradient torch saw) and
``<id>/trajectory/<i>`` (the parameter after every step, stacked on a leading
axis), plus ``<id>/lrs`` (the lr of every group at every step, as torch used it).
The loss is

    sum(a * p**2 / 2 + c * p - b / (1 + p**2))

and the gradient fed to the optimizer is ``grad_sign`` times its derivative,
computed in float64 from the current parameter values and rounded to the
parameter dtype. ``grad_sign`` is -1 for the ``maximize`` runs, so that those
climb the negated loss and stay bounded.

``schedules.npz`` holds, for each schedule case, torch's lr after ``t`` calls of
``scheduler.step()`` (``<name>/recursive``) and torch's closed form at the same
``t`` (``<name>/closed_form``), for ``t = 0 .. steps - 1``.

Every file records ``torch_version`` and ``torch_cpu_capability``: torch picks
its CPU kernels by instruction set, and its AVX2 and AVX512 kernels use fused
multiply-adds where its plain ones do not, so the last bits of the goldens
depend on the kind of CPU that made them. All files load with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import math
import pathlib
import warnings
import zlib

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent

STEPS = 120

# The sizes leave a remainder after whole SIMD packets of 4, 8 and 16 lanes, so
# that vectorized loops and their tails both take part; the 0-d array is a corner
# case of its own.
SHAPES = [(4, 5), (7,), ()]

DTYPES = ("float32", "float64")

# Each case is an optimizer with keyword options, optionally a schedule for lr (a
# StepLR or CosineAnnealingLR stepped once after every optimizer step) and
# optionally param groups, given as parameter indices plus per-group overrides.
OPTIMIZER_CASES = {
    "sgd": [
        {"name": "sgd-plain", "optimizer": "SGD", "options": {"lr": 0.05}},
        {
            "name": "sgd-momentum",
            "optimizer": "SGD",
            "options": {"lr": 0.05, "momentum": 0.9},
        },
        {
            "name": "sgd-momentum-dampening",
            "optimizer": "SGD",
            "options": {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
        },
        {
            "name": "sgd-nesterov",
            "optimizer": "SGD",
            "options": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        },
        {
            "name": "sgd-weight-decay",
            "optimizer": "SGD",
            "options": {"lr": 0.05, "weight_decay": 0.1},
        },
        {
            "name": "sgd-maximize",
            "optimizer": "SGD",
            "options": {"lr": 0.05, "maximize": True},
        },
        {
            "name": "sgd-nesterov-weight-decay-maximize",
            "optimizer": "SGD",
            "options": {
                "lr": 0.03,
                "momentum": 0.8,
                "nesterov": True,
                "weight_decay": 0.05,
                "maximize": True,
            },
        },
        {
            "name": "sgd-momentum-steplr",
            "optimizer": "SGD",
            "options": {"lr": 0.1, "momentum": 0.9},
            "schedule": {"kind": "StepDecay", "step_size": 25, "gamma": 0.5},
        },
        {
            "name": "sgd-dampening-cosine",
            "optimizer": "SGD",
            "options": {"lr": 0.1, "momentum": 0.9, "dampening": 0.1},
            "schedule": {"kind": "CosineAnnealing", "T_max": 80, "lr_min": 1e-3},
        },
        {
            "name": "sgd-param-groups",
            "optimizer": "SGD",
            "options": {
                "lr": 0.05,
                "momentum": 0.9,
                "nesterov": True,
                "weight_decay": 0.01,
            },
            "groups": [
                {"params": [0], "weight_decay": 0.0},
                {"params": [1, 2], "lr": 0.02, "momentum": 0.5},
            ],
        },
    ],
    "adam": [
        {"name": "adam-default", "optimizer": "Adam", "options": {}},
        {
            "name": "adam-weight-decay",
            "optimizer": "Adam",
            "options": {"lr": 0.01, "weight_decay": 0.1},
        },
        {
            "name": "adam-amsgrad",
            "optimizer": "Adam",
            "options": {"lr": 0.01, "amsgrad": True},
        },
        {
            "name": "adam-maximize",
            "optimizer": "Adam",
            "options": {"lr": 0.01, "maximize": True},
        },
        {
            # torch's lerp switches formula at weight 0.5, and the weight here is
            # 1 - beta1, so beta1 < 0.5 takes the branch the defaults never reach.
            "name": "adam-low-beta1",
            "optimizer": "Adam",
            "options": {"lr": 0.01, "betas": [0.3, 0.99], "eps": 1e-6},
        },
        {
            "name": "adam-steplr",
            "optimizer": "Adam",
            "options": {"lr": 0.01},
            "schedule": {"kind": "StepDecay", "step_size": 30, "gamma": 0.3},
        },
        {
            "name": "adam-amsgrad-cosine",
            "optimizer": "Adam",
            "options": {"lr": 0.01, "amsgrad": True},
            "schedule": {"kind": "CosineAnnealing", "T_max": 100, "lr_min": 1e-4},
        },
        {
            "name": "adam-param-groups",
            "optimizer": "Adam",
            "options": {"lr": 0.01},
            "groups": [
                {"params": [0], "weight_decay": 0.1, "betas": [0.8, 0.99]},
                {"params": [1, 2], "lr": 0.003, "eps": 1e-6},
            ],
        },
    ],
    "adamw": [
        {"name": "adamw-default", "optimizer": "AdamW", "options": {}},
        {
            "name": "adamw-amsgrad",
            "optimizer": "AdamW",
            "options": {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
        },
        {
            # The decoupled decay multiplies by 1 - lr * weight_decay, so it has to
            # follow the scheduled lr as well.
            "name": "adamw-cosine",
            "optimizer": "AdamW",
            "options": {"lr": 0.01, "weight_decay": 0.1},
            "schedule": {"kind": "CosineAnnealing", "T_max": 60, "lr_min": 0.0},
        },
        {
            "name": "adamw-param-groups",
            "optimizer": "AdamW",
            "options": {"lr": 0.01, "weight_decay": 0.05},
            "groups": [{"params": [0]}, {"params": [1, 2], "weight_decay": 0.0}],
        },
    ],
}

# The hyperparameters recorded for each param group, under torch's names.
HYPERPARAMETERS = (
    "lr",
    "momentum",
    "dampening",
    "nesterov",
    "weight_decay",
    "maximize",
    "betas",
    "eps",
    "amsgrad",
)

SCHEDULE_STEPS = 3000


def step_decay(name, lr, step_size, gamma):
    return {
        "name": name,
        "kind": "StepDecay",
        "lr": lr,
        "step_size": step_size,
        "gamma": gamma,
    }


def cosine(name, lr, T_max, lr_min):
    return {
        "name": name,
        "kind": "CosineAnnealing",
        "lr": lr,
        "T_max": T_max,
        "lr_min": lr_min,
    }


# Three thousand steps cover many periods of every cosine, so t runs well past
# T_max, where torch's recursive form has to restart at each lr_min.
SCHEDULE_CASES = [
    step_decay("steplr-a", 0.1, 30, 0.1),
    step_decay("steplr-b", 1.0, 7, 0.5),
    step_decay("steplr-c", 3e-4, 1000, 0.9),
    cosine("cosine-a", 0.1, 1000, 0.0),
    cosine("cosine-b", 1.0, 50, 0.01),
    cosine("cosine-c", 3e-3, 777, 1e-5),
    cosine("cosine-d", 0.5, 1, 0.1),
]

# Errors are reported against max(|expected|, SCALE_FLOOR), as in the tests.
SCALE_FLOOR = 0.25


def gradient(p, a, b, c, grad_sign, dtype):
    """Return the loss gradient at ``p`` as a fresh array of ``dtype``.

    Only +, *, / are used, and in float64: they are correctly rounded everywhere,
    whereas NumPy's sin and cos pick SIMD variants by CPU and need not agree to
    the last bit between machines, which would make the goldens machine-bound.
    """
    p = np.asarray(p, dtype=np.float64)
    q = 1.0 + p * p
    g = a * p + c + 2.0 * b * p / (q * q)
    return np.array(grad_sign * g, dtype=dtype)


def grad_sign(case):
    return -1.0 if case["options"].get("maximize", False) else 1.0


def make_problem(case, dtype):
    """Return starting values and loss coefficients, fixed by the case name."""
    rng = np.random.default_rng(zlib.crc32(case["name"].encode()))
    init, a, b, c = [], [], [], []
    for shape in SHAPES:
        init.append(np.array(rng.normal(0.0, 1.5, shape), dtype=dtype))
        a.append(np.array(rng.uniform(0.5, 1.5, shape)))
        b.append(np.array(rng.uniform(-0.5, 0.5, shape)))
        c.append(np.array(rng.uniform(-1.0, 1.0, shape)))
    return init, a, b, c


def with_tuples(options):
    options = dict(options)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return options


def make_scheduler(optimizer, spec):
    if spec["kind"] == "StepDecay":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=spec["step_size"], gamma=spec["gamma"]
        )
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=spec["T_max"], eta_min=spec["lr_min"]
    )


def group_options(optimizer):
    """The hyperparameters of each param group, as torch resolved them."""
    return [
        {key: group[key] for key in HYPERPARAMETERS if key in group}
        for group in optimizer.param_groups
    ]


def run_torch(case, init, a, b, c, steps=STEPS, **extra):
    """Run ``case`` with torch.optim from the starting values ``init``.

    Return the params after every step, the lr of every group at every step,
    the first gradients and the hyperparameters of the groups. ``extra`` goes to
    the optimizer (``foreach``, ``fused``).
    """
    dtype = init[0].dtype
    params = [torch.tensor(x, requires_grad=True) for x in init]
    if case.get("groups"):
        params_arg = []
        for group in case["groups"]:
            group = with_tuples(group)
            group["params"] = [params[i] for i in group["params"]]
            params_arg.append(group)
    else:
        params_arg = params
    optimizer_class = getattr(torch.optim, case["optimizer"])
    optimizer = optimizer_class(params_arg, **with_tuples(case["options"]), **extra)
    scheduler = None
    if case.get("schedule"):
        scheduler = make_scheduler(optimizer, case["schedule"])

    sign = grad_sign(case)
    trajectory = [np.empty((steps,) + x.shape, dtype=dtype) for x in init]
    lrs = np.empty((steps, len(optimizer.param_groups)))
    grad0 = None
    for t in range(steps):
        grads = [
            gradient(p.detach().numpy(), a[i], b[i], c[i], sign, dtype)
            for i, p in enumerate(params)
        ]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g)
        if grad0 is None:
            grad0 = grads
        lrs[t] = [group["lr"] for group in optimizer.param_groups]
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        for i, p in enumerate(params):
            trajectory[i][t] = p.detach().numpy()
    return trajectory, lrs, grad0, group_options(optimizer)


def max_error(actual, expected):
    """Largest float32 ulp distance, or float64 relative error, of the scale."""
    scale = np.maximum(np.abs(expected), SCALE_FLOOR).astype(expected.dtype)
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    if expected.dtype == np.float32:
        return float(np.max(diff / np.spacing(scale)))
    return float(np.max(diff / scale))


def compare_paths(case, init, a, b, c, reference):
    """Measure how far torch's foreach and fused paths land from the default.

    The default (the single-tensor loop on CPU) is the golden reference; these
    numbers only show how much torch varies between its own implementations.
    """
    info = {}
    for label in ("foreach", "fused"):
        try:
            other, _, _, _ = run_torch(case, init, a, b, c, **{label: True})
        except (RuntimeError, ValueError) as error:
            info[label] = f"unavailable: {error}"
            continue
        info[label] = max(max_error(x, y) for x, y in zip(other, reference))
    return info


def provenance():
    return {
        "torch_version": np.array(torch.__version__),
        "torch_cpu_capability": np.array(torch.backends.cpu.get_cpu_capability()),
    }


def write_optimizer_file(family, cases):
    arrays = provenance()
    index = []
    for case in cases:
        for dtype in DTYPES:
            key = f"{case['name']}-{dtype}"
            init, a, b, c = make_problem(case, dtype)
            trajectory, lrs, grad0, groups = run_torch(case, init, a, b, c)

            # The golden reference is torch's default path; fail loudly if that
            # ever stops being the single-tensor loop on CPU.
            explicit, _, _, _ = run_torch(case, init, a, b, c, foreach=False)
            for x, y in zip(explicit, trajectory):
                if not np.array_equal(x, y):
                    raise RuntimeError(f"{key}: default is not the single-tensor path")

            entry = dict(case, id=key, dtype=dtype, steps=STEPS)
            entry["grad_sign"] = grad_sign(case)
            entry["num_params"] = len(init)
            entry["param_groups"] = groups
            entry["torch_other_paths"] = compare_paths(case, init, a, b, c, trajectory)
            index.append(entry)
            for i in range(len(init)):
                arrays[f"{key}/init/{i}"] = init[i]
                arrays[f"{key}/a/{i}"] = a[i]
                arrays[f"{key}/b/{i}"] = b[i]
                arrays[f"{key}/c/{i}"] = c[i]
                arrays[f"{key}/grad0/{i}"] = grad0[i]
                arrays[f"{key}/trajectory/{i}"] = trajectory[i]
            arrays[f"{key}/lrs"] = lrs
            print(f"{key}: torch's other paths differ by {entry['torch_other_paths']}")
    arrays["cases"] = np.array(json.dumps(index))
    np.savez_compressed(HERE / f"{family}.npz", **arrays)


def closed_form(case, t):
    """The closed form torch documents, for when _get_closed_form_lr is gone."""
    if case["kind"] == "StepDecay":
        return case["lr"] * case["gamma"] ** (t // case["step_size"])
    cosine_term = 1 + math.cos(math.pi * t / case["T_max"])
    return case["lr_min"] + (case["lr"] - case["lr_min"]) * cosine_term / 2


def schedule_sequences(case, steps=SCHEDULE_STEPS):
    """Return torch's recursive and closed-form lr for t = 0 .. steps - 1."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=case["lr"])
    scheduler = make_scheduler(optimizer, case)
    recursive = np.empty(steps)
    closed = np.empty(steps)
    for t in range(steps):
        if scheduler.last_epoch != t:
            raise RuntimeError(f"{case['name']}: scheduler at {scheduler.last_epoch}")
        recursive[t] = optimizer.param_groups[0]["lr"]
        if hasattr(scheduler, "_get_closed_form_lr"):
            closed[t] = scheduler._get_closed_form_lr()[0]
        else:
            closed[t] = closed_form(case, t)
        if not math.isclose(closed[t], closed_form(case, t), rel_tol=1e-15):
            raise RuntimeError(f"{case['name']}: closed form changed at t={t}")

        # The parameter has no gradient, so this step changes nothing; it is
        # here so that the scheduler sees the call order torch expects.
        optimizer.step()
        scheduler.step()
    return recursive, closed


def write_schedule_file():
    arrays = provenance()
    index = []
    for case in SCHEDULE_CASES:
        recursive, closed = schedule_sequences(case)
        drift = float(np.max(np.abs(recursive - closed)) / np.max(np.abs(closed)))
        index.append(dict(case, steps=SCHEDULE_STEPS, max_drift=drift))
        arrays[f"{case['name']}/recursive"] = recursive
        arrays[f"{case['name']}/closed_form"] = closed
        print(f"{case['name']}: recursive form drifts {drift:.3g} of the peak lr")
    arrays["cases"] = np.array(json.dumps(index))
    np.savez_compressed(HERE / "schedules.npz", **arrays)


def main():
    # A warning from torch here would mean a changed API or call order, which
    # could change what the goldens mean.
    warnings.simplefilter("error")
    for family, cases in OPTIMIZER_CASES.items():
        write_optimizer_file(family, cases)
    write_schedule_file()


if __name__ == "__main__":
    main()
