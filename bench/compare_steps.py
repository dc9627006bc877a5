"""The op-table issue's four step lines of one build against another, in alternating processes.

    python bench/compare_steps.py CASE [BLOCKS]      (CASE: "MLP forward+backward",
        "MLP training step (Adam)", "function step", "20-op chain, 16 elements")

"old" is an install of another revision under /tmp/old (`pip install --no-deps --target /tmp/old
<worktree>`; this tree's editable finder is taken off sys.meta_path in its process), "new" this
tree, beside the line's reference (the NumPy floor of test_autodiff.floor_step, or PyTorch eager
for the chain), each in a process of its own taking turns block after block (workloads.py).
Prints medians, IQRs, each build's ratio to the reference and new / old.
"""

import functools
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
OLD = "/tmp/old"

def factory(root, lib, case):
    """The step of `case` for `lib`, accel imported from `root` (None: this tree)."""
    if root is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if "Redirecting" not in type(f).__name__]
        sys.path.insert(0, root)
    import accel

    assert root is None or accel.__file__.startswith(root), accel.__file__
    if case == "function step":
        import test_function

        return test_function.make_step(lib, "MLP training step (Adam)")
    import test_autodiff

    return test_autodiff.make_step(lib, case)


def main():
    from workloads import alternated_processes

    case = sys.argv[1] if len(sys.argv) > 1 else "MLP forward+backward"
    blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    lib = "accel function" if case == "function step" else "accel"
    steps = 200 if "chain" in case else 20
    entries = {"old": functools.partial(factory, OLD, lib, case), "new": functools.partial(factory, None, lib, case)}
    ref = "torch" if "chain" in case else "floor"
    entries[ref] = functools.partial(factory, None, "torch" if ref == "torch" else "accel floor", case)
    s = alternated_processes(entries, blocks, steps)
    medians = {k: v[0] for k, v in s.items()}
    print(case, {k: f"{v[0] * 1e6:.1f} us ±{v[1] * 1e6:.0f}" for k, v in s.items()},
          f"old/{ref} {medians['old'] / medians[ref]:.3f} new/{ref} {medians['new'] / medians[ref]:.3f} "
          f"new/old {medians['new'] / medians['old']:.3f}")


if __name__ == "__main__":
    main()
