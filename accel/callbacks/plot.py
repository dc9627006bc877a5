"""History.plot: learning curves to a PNG with matplotlib (an optional dependency: the `plot`
extra, included in `examples`)."""

from __future__ import annotations

import math
import os

__all__ = ["plot_history"]


def plot_history(history, path, metrics=None, title=None, mark_epoch=None) -> str:
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("History.plot needs matplotlib: pip install matplotlib (or the 'plot' extra)") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logged = history.history
    if not logged:
        raise ValueError("History.plot: nothing was recorded (fit ran no epoch)")
    if metrics is None:
        metrics = [key for key in logged if not key.startswith("val_") and key != "learning_rate"]
        rates = logged.get("learning_rate")
        if rates and len(set(rates)) > 1:
            metrics.append("learning_rate")
    missing = [name for name in metrics if name not in logged]
    if missing:
        raise ValueError(f"History.plot: {missing} were not logged; logged: {sorted(logged)}")
    epochs = [e + 1 for e in history.epoch] or list(range(1, len(next(iter(logged.values()))) + 1))
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, metrics):
        ax.plot(epochs, logged[name], marker=".", label="train" if name != "learning_rate" else name)
        if f"val_{name}" in logged:
            values = logged[f"val_{name}"]
            ax.plot(epochs[len(epochs) - len(values):], values, marker=".", label="validation")
        if name == "learning_rate" or (name.endswith("loss") and min(logged[name]) > 0):
            ax.set_yscale("log")
        if mark_epoch is not None:
            ax.axvline(mark_epoch + 1, color="gray", linestyle="--", linewidth=1, label=f"epoch {mark_epoch + 1}")
        ax.set(title=name, xlabel="epoch")
        ax.grid(alpha=0.3)
        if name != "learning_rate" or mark_epoch is not None:
            ax.legend()
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)
