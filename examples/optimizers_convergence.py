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
            results[(name, lr)] = path
            when = {"converged": f"converged in {iteration} iterations",
                    "exploded": f"gradient exploded at iteration {iteration}",
                    "did not converge": f"did not converge in {iteration} iterations"}[outcome]
            print(f"{name}, learning rate {lr:g}: {when}; x = {path[-1]:.6g}")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "optimizer_paths.png")
    plot(results, out)
    print(f"saved {out}")
    return results


def plot(results, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = numpy.linspace(-2.0, 2.0, 400)
    fig, axes = plt.subplots(1, len(OPTIMIZERS), figsize=(5 * len(OPTIMIZERS), 4), sharey=True)
    for ax, name in zip(axes, OPTIMIZERS):
        ax.plot(xs, 2 * xs ** 4 + 3 * xs ** 3 + 2, color="black", linewidth=1, label="L(x)")
        for lr in LEARNING_RATES:
            path = numpy.array([p for p in results[(name, lr)] if math.isfinite(p) and abs(p) <= 2.0])
            if path.size:
                ax.plot(path, 2 * path ** 4 + 3 * path ** 3 + 2, marker=".", markersize=3, linewidth=0.8,
                        label=f"lr={lr:g}")
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.set_ylim(-1, 40)
        ax.legend()
    axes[0].set_ylabel("L(x) = 2x^4 + 3x^3 + 2")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
