"""The callback protocol (Keras 3's): Callback, History, LambdaCallback (CallbackList, which
calls them, is callback_list.py).

Epoch logs are Python floats. Batch logs hold the running results of the epoch as 0-d tensors
(no host copy until a callback reads one); a callback that overrides a batch-end hook gets them
as floats, as in Keras.
"""

from __future__ import annotations

import numbers

__all__ = ["Callback", "History", "LambdaCallback", "as_floats", "overrides"]

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end", "on_train_batch_begin", "on_train_batch_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
          "on_batch_begin", "on_batch_end")


class Callback:
    """Base class: override the hooks you need. `self.model` is the model being trained (its
    `stop_training = True` ends `fit` after the current batch); `self.params` holds `verbose`,
    `epochs` and `steps` (batches per epoch, None when unknown)."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    # -- training ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    # -- evaluation and prediction ------------------------------------------------------------------
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


def overrides(callback, *names) -> bool:
    """Whether the callback defines any of these hooks itself (its class or, as LambdaCallback
    does, the instance)."""
    return any(name in vars(callback) or getattr(type(callback), name) is not getattr(Callback, name)
               for name in names)


def as_floats(logs) -> dict:
    """A copy of `logs` with 0-d tensors and NumPy scalars as Python floats (one host read each)."""
    out = {}
    for key, value in dict(logs or {}).items():
        if isinstance(value, numbers.Number) or isinstance(value, str):
            out[key] = value
        else:
            try:
                out[key] = float(value)
            except (TypeError, ValueError):
                out[key] = value
    return out


class History(Callback):
    """Records each epoch's logs: `history[name]` is the list of values, `epoch` the epoch
    numbers. `fit` returns it (and sets `model.history`)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path, metrics=None, title: str | None = None, mark_epoch: int | None = None) -> str:
        """Draws the curves to a PNG at `path` (needs matplotlib): one panel per metric, its
        validation curve beside it; `metrics` picks names (default: every logged one but
        `learning_rate`, which gets its own log-scale panel when it changed); `mark_epoch` (0-based,
        e.g. EarlyStopping's best_epoch) draws a dashed line there. Returns `path`."""
        from .plot import plot_history
        return plot_history(self, path, metrics=metrics, title=title, mark_epoch=mark_epoch)


class LambdaCallback(Callback):
    """A callback from functions: `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`,
    `on_train_begin(logs)`, `on_train_end(logs)`, `on_train_batch_begin(batch, logs)`,
    `on_train_batch_end(batch, logs)` (and any other hook's name) as keyword arguments."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        functions = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                         on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                         on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in functions.items():
            if name not in _HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; expected one of {list(_HOOKS)}")
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)
