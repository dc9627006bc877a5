"""ProgbarLogger: what `fit(verbose=...)` shows. verbose=1 on a terminal: a tqdm bar per epoch
(batches done, rate, ETA, the running loss and metrics); verbose=2, or output that is not a
terminal: one line per epoch; verbose=0: nothing (fit adds no ProgbarLogger).

The running values are read from the device only when the bar is redrawn (at most every
`refresh_s` seconds), so a step is not held up by a host copy per batch."""

from __future__ import annotations

import sys
import time

from .callback import Callback, as_floats

__all__ = ["ProgbarLogger"]


def _format_logs(logs: dict) -> str:
    return " - ".join(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}"
                      for key, value in logs.items())


class ProgbarLogger(Callback):
    reads_lazily = True  # CallbackList hands it the batch logs as tensors; it reads them when drawing

    def __init__(self, refresh_s: float = 0.1, file=None):
        super().__init__()
        self.refresh_s = float(refresh_s)
        self.file = file
        self._bar = None
        self._epochs = None
        self._mode = None
        self._started = 0.0
        self._seen = 0
        self._last_drawn = 0.0

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        out = self.file or sys.stdout
        interactive = bool(getattr(out, "isatty", lambda: False)())
        self._mode = None if not verbose else ("bar" if verbose == 1 and interactive else "line")
        self._epochs = params.get("epochs")

    # -- one bar per epoch ------------------------------------------------------------------------------
    def _open(self, description: str) -> None:
        self._close()
        self._started = time.perf_counter()
        self._seen = 0
        self._last_drawn = 0.0
        if self._mode == "bar":
            from tqdm import tqdm
            self._bar = tqdm(total=self.params.get("steps"), desc=description, unit="step", leave=True,
                             file=self.file or sys.stdout, dynamic_ncols=True)

    def _advance(self, logs) -> None:
        self._seen += 1
        if self._bar is None:
            return
        now = time.perf_counter()
        if logs and now - self._last_drawn >= self.refresh_s:
            self._last_drawn = now
            self._bar.set_postfix_str(_format_logs(as_floats(logs)), refresh=False)
        self._bar.update(1)

    def _finish(self, description: str, logs) -> None:
        elapsed = time.perf_counter() - self._started
        logs = as_floats(logs)
        if self._bar is not None:
            if logs:
                self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            if self._bar.total is None:
                self._bar.total = self._seen
            self._bar.refresh()
            self._close()
        elif self._mode == "line":
            per_step = elapsed / self._seen * 1e3 if self._seen else 0.0
            text = f"{description} - {self._seen} steps - {elapsed:.1f}s ({per_step:.2f} ms/step)"
            print(text + (f" - {_format_logs(logs)}" if logs else ""), file=self.file or sys.stdout, flush=True)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # -- hooks --------------------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_name = f"Epoch {epoch + 1}/{self._epochs}" if self._epochs else f"Epoch {epoch + 1}"
        self._in_fit = True
        self._open(self._epoch_name)

    def on_train_batch_end(self, batch, logs=None):
        self._advance(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(self._epoch_name, logs)

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close()

    def on_test_begin(self, logs=None):
        if not getattr(self, "_in_fit", False):
            self._open("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if not getattr(self, "_in_fit", False):
            self._advance(logs)

    def on_test_end(self, logs=None):
        if not getattr(self, "_in_fit", False):
            self._finish("Evaluate", logs)

    def on_predict_begin(self, logs=None):
        self._open("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        self._advance(None)

    def on_predict_end(self, logs=None):
        self._finish("Predict", None)
