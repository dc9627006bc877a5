"""fit's cost per step over a hand-written loop doing the same work: the MLP 784-256-256-10 at
batch 128 with Adam, sparse cross-entropy on logits, the running loss and accuracy kept on the
device. Both run in this process in strict alternation (one library: no peer's threads spin),
epoch against epoch, on one model (the same buffers for both); the median and IQR per step go
to extra_info. Target (training-API issue):
fit / loop <= 1.05 at verbose=0 and verbose=1 (the bar really drawn, into a terminal stand-in)."""

import io

import numpy
import pytest

import accel as ac

BATCH = 128


class _Terminal(io.StringIO):
    """A terminal that keeps nothing: tqdm formats and writes every refresh into it."""

    def isatty(self):
        return True

    def write(self, text):
        return len(text)


def _model(seed):
    model = ac.nn.Sequential([ac.nn.Dense(256, activation="relu", input_dim=784, seed=seed),
                              ac.nn.Dense(256, activation="relu", input_dim=256, seed=seed + 1),
                              ac.nn.Dense(10, input_dim=256, seed=seed + 2)])
    model.compile(optimizer=ac.optimizers.Adam(1e-3),
                  loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def make_epochs(steps: int, verbose: int, shared: bool = True):
    """(fit epoch, hand-written epoch, their models): each epoch runs `steps` training steps.
    shared: both train one model (the timing: the same buffers, so where an allocation lands
    cannot favour one of them); else each its own (the check that they do the same work)."""
    rng = numpy.random.default_rng(0)
    x = ac.tensor(rng.standard_normal((steps * BATCH, 784)).astype(numpy.float32))
    y = ac.tensor(rng.integers(0, 10, steps * BATCH))
    fitted = _model(0)
    looped = fitted if shared else _model(0)
    loss_fn = looped._compiled.loss
    rows = steps * BATCH

    def fit_epoch():
        callbacks = [ac.callbacks.ProgbarLogger(file=_Terminal())] if verbose else None
        history = fitted.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=verbose, callbacks=callbacks)
        return history.history["loss"][0]

    def hand_epoch():
        total = correct = None
        variables = looped.trainable_variables
        for start in range(0, rows, BATCH):
            xb, yb = x[start:start + BATCH], y[start:start + BATCH]
            with ac.GradientTape() as tape:
                logits = looped(xb)
                loss = loss_fn(yb, logits)
            looped.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            batch_loss = ac.cast(loss, "float64") * float(BATCH)
            hits = ac.sum(ac.cast(ac.equal(ac.argmax(logits, axis=-1), yb), "float64"))
            total = batch_loss if total is None else total + batch_loss
            correct = hits if correct is None else correct + hits
        return float(total) / rows, float(correct) / rows

    return fit_epoch, hand_epoch, fitted, looped


@pytest.mark.parametrize("verbose", [0, 1])
def test_fit_overhead(benchmark, verbose, bench_size):
    from workloads import interleaved

    benchmark.group = f"fit overhead: MLP 784-256-256-10, batch 128, Adam, verbose={verbose} [cpu]"
    steps = 5 if bench_size == "tiny" else 20
    rounds = 3 if bench_size == "tiny" else 15
    fit_epoch, hand_epoch, fitted, looped = make_epochs(steps, verbose, shared=False)
    # both really train, and the same steps: the first epochs' losses agree
    assert fit_epoch() == pytest.approx(hand_epoch()[0], rel=1e-5)
    assert fitted.optimizer.iterations == looped.optimizer.iterations == steps
    fit_epoch, hand_epoch, model, _ = make_epochs(steps, verbose)
    fit_epoch(), hand_epoch()
    stats = interleaved({"fit": fit_epoch, "loop": hand_epoch}, rounds, spread=True)
    assert model.optimizer.iterations == 2 * steps * (rounds + 1)
    benchmark.extra_info.update({"median_s": {k: v[0] / steps for k, v in stats.items()},
                                 "iqr_s": {k: v[1] / steps for k, v in stats.items()},
                                 "fit_over_loop": stats["fit"][0] / stats["loop"][0], "steps": steps})
    benchmark.pedantic(fit_epoch, rounds=1, iterations=1)
