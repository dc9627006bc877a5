"""The TensorFlow Core tutorial "Optimizers with Core APIs", with accel.

Minimise L(x) = 2x^4 + 3x^3 + 2 from x = 2 with gradient descent, momentum (0.95) and Adam at
learning rates 1e-3, 1e-2 and 1e-1, for at most 2000 iterations each. A run has converged when
an update no longer changes x (float32) and has exploded when the gradient is not finite. Prints
the outcome of every run and saves the parameter paths over the loss curve as a PNG.

    python examples/optimizers_convergence.py            # writes accel_examples/optimizers_convergence/
    python examples/optimizers_convergence.py --out runs/paths
"""

import argparse
import math
import os

import numpy

import accel as ac

LEARNING_RATES = (1e-3, 1e-2, 1e-1)
OPTIMIZERS = {
    "Gradient descent": lambda lr: ac.optimizers.SGD(lr),
    "Momentum (0.95)": lambda lr: ac.optimizers.SGD(lr, momentum=0.95),
    "Adam": lambda lr: ac.optimizers.Adam(lr),
}


def loss(x):
    return 2 * x ** 4 + 3 * x ** 3 + 2


def convergence_test(optimizer, start=2.0, max_iters=2000):
    """(outcome, iteration, path): outcome is 'converged', 'exploded' or 'did not converge'."""
    x = ac.Variable(start, name="x")
    path = [start]
    for iteration in range(1, max_iters + 1):
        with ac.GradientTape() as tape:
            value = loss(x)
        grad = tape.gradient(value, x)
        if not math.isfinite(grad.item()):
            return "exploded", iteration, path
        before = x.item()
        optimizer.apply_gradients([(grad, x)])
        path.append(x.item())
        if x.item() == before:
            return "converged", iteration, path
    return "did not converge", max_iters, path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("accel_examples", "optimizers_convergence"),
                        help="the folder for the PNG (created; default under the working directory)")
    parser.add_argument("--max-iters", type=int, default=2000)
    args = parser.parse_args(argv)

    results = {}
    for name, make in OPTIMIZERS.items():
        for lr in LEARNING_RATES:
            with numpy.errstate(over="ignore", invalid="ignore"):
                outcome, iteration, path = convergence_test(make(lr), max_iters=args.max_iters)
            when = {"converged": f"converged in {iteration} iterations",
                    "exploded": f"gradient exploded at iteration {iteration}",
                    "did not converge": f"did not converge in {iteration} iterations"}[outcome]
            results[(name, lr)] = (when, path)
            print(f"{name}, learning rate {lr:g}: {when}; x = {path[-1]:.6g}")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "optimizer_paths.png")
    plot(results, out)
    print(f"saved {out}")
    return results


def plot(results, out):
    """One panel per optimizer (rows) and learning rate (columns): L(x), every iterate on it
    coloured by iteration, the start (square) and the end (star), and the outcome in the title;
    iterates beyond the plotted range (x in [-2, 2.2]) are counted in the panel instead of drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = numpy.linspace(-2.0, 2.2, 400)
    fig, axes = plt.subplots(len(OPTIMIZERS), len(LEARNING_RATES), figsize=(4.2 * len(LEARNING_RATES),
                             3.2 * len(OPTIMIZERS)), sharex=True, sharey=True, squeeze=False)
    image = None
    for row, name in enumerate(OPTIMIZERS):
        for col, lr in enumerate(LEARNING_RATES):
            ax = axes[row, col]
            when, path = results[(name, lr)]
            path = numpy.array(path, dtype=numpy.float64)
            ax.plot(xs, loss(xs), color="black", linewidth=1)
            shown = numpy.isfinite(path) & (path >= xs[0]) & (path <= xs[-1])
            steps = numpy.arange(path.size)
            image = ax.scatter(path[shown], loss(path[shown]), c=steps[shown], cmap="viridis", s=9, zorder=3,
                               norm=matplotlib.colors.LogNorm(vmin=1, vmax=2000))
            ax.plot(path[0], loss(path[0]), "s", color="tab:red", markersize=6, zorder=4, label="start")
            if shown[-1]:
                ax.plot(path[-1], loss(path[-1]), "*", color="tab:orange", markersize=12, zorder=5, label="end")
            if not shown.all():
                ax.text(0.03, 0.9, f"{int((~shown).sum())} iterates off the chart", transform=ax.transAxes, fontsize=8)
            ax.set_title(f"{name}, lr={lr:g}\n{when}", fontsize=9)
            ax.set_yscale("log")  # L > 0.9 everywhere: the start (L(2) = 58) and the minimum both show
            ax.set_ylim(0.8, 80)
            if row == len(OPTIMIZERS) - 1:
                ax.set_xlabel("x")
            if col == 0:
                ax.set_ylabel("L(x) = 2x^4 + 3x^3 + 2")
    axes[0, 0].legend(loc="upper center", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01)
    bar.set_label("iteration (log scale)")
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
