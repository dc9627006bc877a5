"""examples/train_recommender.py: a short run learns (the loss falls, the held-out accuracy beats
the base rate, a PNG), and its optimizer reads and writes only the rows a batch looked up."""

import re

import numpy
import pytest

pytestmark = pytest.mark.slow  # CI runs them; a developer can skip them with -m 'not slow'

SMALL = ["--users", "50000", "--items", "10000", "--samples", "120000", "--epochs", "3"]


@pytest.mark.parametrize("extra", [[], ["--function"]], ids=["eager", "function"])
def test_a_short_run_learns(tmp_path, run_example, extra):
    pytest.importorskip("matplotlib")
    out = run_example("train_recommender", *SMALL, *extra)
    losses = [float(v) for v in re.findall(r" - loss: ([0-9.]+)", out)]
    assert len(losses) == 3 and losses[2] < losses[0]
    accuracy, base = (float(v) for v in re.search(r"val accuracy ([0-9.]+) \(base rate ([0-9.]+)", out).groups())
    assert accuracy > base + 0.05
    assert (tmp_path / "recommender_loss.png").read_bytes()[:4] == b"\x89PNG"


def test_a_step_touches_only_the_rows_it_looked_up(example_module):
    ex = example_module("train_recommender")
    args = ex.parse_args(["--users", "1000", "--items", "500"])
    pairs, clicks, _ = ex.synthetic_clicks(64, args.users, args.items, args.hidden_factors, 1)
    model = ex.compile_model(ex.build(args, ex.ac.get_device("cpu")), args)
    model.train_on_batch(pairs, clicks)  # slots exist from here on
    table = model.table.embeddings
    accumulator = model.optimizer.get_slot(table, "accumulator")
    before, before_acc = table.numpy(), accumulator.numpy()
    pairs, clicks, _ = ex.synthetic_clicks(64, args.users, args.items, args.hidden_factors, 2)
    model.train_on_batch(pairs, clicks)
    touched = numpy.zeros(args.users + args.items, bool)
    touched[numpy.concatenate([pairs[:, 0], pairs[:, 1] + args.users])] = True
    changed = (table.numpy() != before).any(axis=1)
    assert (changed <= touched).all() and changed[touched].mean() > 0.9
    numpy.testing.assert_array_equal(accumulator.numpy()[~touched], before_acc[~touched])
