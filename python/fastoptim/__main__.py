"""Train a small network on handwritten digits with every optimizer and schedule.

``python -m fastoptim`` fits a multilayer perceptron, written here in NumPy with its
own backward pass, to scikit-learn's bundled 8x8 digits, in mini-batches, with SGD,
Momentum, Adam and AdamW under a step-decay and a cosine schedule. Each run is made
twice from the same start, with fastoptim and with its NumPy reference: the losses
must agree, and the time spent in ``step`` shows what the compiled kernels save. It
prints a table of test accuracy and step times and draws the loss curves to a PNG.

Needs scikit-learn for the data (``pip install "fastoptim[showcase]"``) and
matplotlib for the plot.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fastoptim as fo
from fastoptim import reference

OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"name": "SGD", "lr": 0.1, "hyper": {"momentum": 0.9, "nesterov": True}},
    "momentum": {"name": "Momentum", "lr": 0.1, "hyper": {"gamma": 0.9}},
    "adam": {"name": "Adam", "lr": 3e-3, "hyper": {}},
    "adamw": {"name": "AdamW", "lr": 3e-3, "hyper": {"weight_decay": 1e-2}},
}
SCHEDULES = ("step", "cosine")


@dataclass
class Run:
    optimizer: str
    schedule: str
    losses: list[float] = field(default_factory=list)
    accuracy: float = 0.0
    step_seconds: float = 0.0
    steps: int = 0


def load_digits_split(seed: int) -> tuple[np.ndarray, ...]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit(
            "python -m fastoptim trains on scikit-learn's bundled digits; install "
            'it with: pip install "fastoptim[showcase]"'
        )
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    split = int(0.8 * len(x))
    train, test = order[:split], order[split:]
    return x[train], y[train], x[test], y[test]


def init_params(hidden: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((64, hidden)) * np.sqrt(2.0 / 64)
    w2 = rng.standard_normal((hidden, 10)) * np.sqrt(1.0 / hidden)
    shapes = [w1, np.zeros(hidden), w2, np.zeros(10)]
    return [np.ascontiguousarray(p, dtype=np.float32) for p in shapes]


def forward(params: list[np.ndarray], x: np.ndarray) -> tuple[np.ndarray, ...]:
    w1, b1, w2, b2 = params
    hidden = np.maximum(x @ w1 + b1, 0.0)
    logits = hidden @ w2 + b2
    logits = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return hidden, probabilities


def loss_and_gradients(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """Mean cross-entropy of the batch and its gradient for each parameter."""
    w2 = params[2]
    hidden, probabilities = forward(params, x)
    rows = np.arange(len(y))
    loss = float(-np.log(probabilities[rows, y] + 1e-12).mean())
    d_logits = probabilities
    d_logits[rows, y] -= 1.0
    d_logits /= len(y)
    d_hidden = (d_logits @ w2.T) * (hidden > 0)
    grads = [x.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_logits, d_logits.sum(0)]
    return loss, [np.ascontiguousarray(g, dtype=np.float32) for g in grads]


def schedule(module: Any, kind: str, lr: float, total: int) -> Any:
    if kind == "step":
        return module.StepDecay(lr, step_size=max(1, total // 3), gamma=0.3)
    return module.CosineAnnealing(lr, T_max=total, lr_min=lr / 100)


def train(
    module: Any,
    run: Run,
    data: tuple[np.ndarray, ...],
    args: argparse.Namespace,
    progress: Progress,
) -> Run:
    x_train, y_train, x_test, y_test = data
    batches = (len(x_train) + args.batch_size - 1) // args.batch_size
    total = args.epochs * batches
    spec = OPTIMIZERS[run.optimizer]
    params = init_params(args.hidden, args.seed)
    lr = schedule(module.schedules, run.schedule, spec["lr"], total)
    opt = getattr(module, spec["name"])(params, lr=lr, **spec["hyper"])
    rng = np.random.default_rng(args.seed)
    for _ in range(args.epochs):
        order = rng.permutation(len(x_train))
        epoch_loss = 0.0
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            loss, grads = loss_and_gradients(params, x_train[batch], y_train[batch])
            began = time.perf_counter()
            opt.step(grads)
            run.step_seconds += time.perf_counter() - began
            run.steps += 1
            epoch_loss += loss * len(batch)
        run.losses.append(epoch_loss / len(order))
        progress.advance()
    _, probabilities = forward(params, x_test)
    run.accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    return run


class Progress:
    """A one-line progress bar on stderr, redrawn as epochs finish."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.interactive = sys.stderr.isatty()

    def advance(self) -> None:
        self.done += 1
        if self.interactive or self.done == self.total:
            filled = 30 * self.done // self.total
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if self.done == self.total else ""
            print(
                f"\rtraining [{bar}] {self.done}/{self.total} epochs",
                end=end,
                file=sys.stderr,
                flush=True,
            )


def plot(runs: list[tuple[Run, Run]], path: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (
            "matplotlib is not installed, so no plot was drawn (pip install matplotlib)"
        )
    figure, axes = plt.subplots(1, len(SCHEDULES), figsize=(11, 4), sharey=True)
    for axis, kind in zip(np.atleast_1d(axes), SCHEDULES):
        for native, _ in runs:
            if native.schedule == kind:
                epochs = np.arange(1, len(native.losses) + 1)
                axis.plot(
                    epochs, native.losses, label=OPTIMIZERS[native.optimizer]["name"]
                )
        axis.set_title(f"{kind} schedule")
        axis.set_xlabel("epoch")
        axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend()
    np.atleast_1d(axes)[0].set_ylabel("training loss (cross-entropy)")
    figure.suptitle(
        "MLP on scikit-learn digits, fastoptim (the reference's curves are identical)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return f"wrote {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fastoptim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument(
        "--optimizer", nargs="+", choices=list(OPTIMIZERS), default=list(OPTIMIZERS)
    )
    parser.add_argument(
        "--schedule", nargs="+", choices=SCHEDULES, default=list(SCHEDULES)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--png", default="fastoptim-digits.png", help="where to draw the loss curves"
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.hidden < 1:
        parser.error("--epochs, --batch-size and --hidden must be positive")

    data = load_digits_split(args.seed)
    pairs = [(o, s) for o in args.optimizer for s in args.schedule]
    progress = Progress(2 * len(pairs) * args.epochs)
    runs = []
    for optimizer, kind in pairs:
        native = train(fo, Run(optimizer, kind), data, args, progress)
        ref = train(reference, Run(optimizer, kind), data, args, progress)
        runs.append((native, ref))

    print(
        f"MLP 64-{args.hidden}-10 on {len(data[0])} training and {len(data[2])} test "
        f"digits, {args.epochs} epochs of batches of {args.batch_size}; "
        f"fastoptim {fo.__version__}, {fo.build_info()['isa']}"
    )
    header = (
        f"{'optimizer':10} {'schedule':8} {'test acc':>8} {'final loss':>10} "
        f"{'step fastoptim':>14} {'step NumPy':>11} {'speedup':>8} {'losses':>9}"
    )
    print(header)
    print("-" * len(header))
    for native, ref in runs:
        same = native.losses == ref.losses
        native_us = 1e6 * native.step_seconds / native.steps
        ref_us = 1e6 * ref.step_seconds / ref.steps
        print(
            f"{OPTIMIZERS[native.optimizer]['name']:10} {native.schedule:8} "
            f"{native.accuracy:8.1%} {native.losses[-1]:10.4f} "
            f"{native_us:11.1f} us {ref_us:8.1f} us {ref_us / native_us:7.1f}x "
            f"{'identical' if same else 'DIFFER':>9}"
        )
    print(plot(runs, args.png))
    return 0 if all(n.losses == r.losses for n, r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
