"""The callback protocol (Keras 3's): Callback, CallbackList, History, LambdaCallback.

`fit`, `evaluate` and `predict` call the hooks of a CallbackList in the order the callbacks were
given; History (and ProgbarLogger, unless verbose=0) are added after the user's callbacks, as
Keras does, so History records what they add to the epoch's logs (`learning_rate`).

Epoch logs are Python floats. Batch logs hold the running results of the epoch as 0-d tensors
(no host copy until a callback reads one); a callback that overrides a batch-end hook gets them
as floats, as in Keras.
"""

from __future__ import annotations

import numbers

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "as_floats"]

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


def _overrides(callback, *names) -> bool:
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


class CallbackList(Callback):
    """Calls each hook of every callback, in order. `add_history` / `add_progbar` append a
    History / ProgbarLogger when the list has none (after the given callbacks)."""

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False, model=None, **params):
        super().__init__()
        callbacks = list(callbacks or [])
        for index, callback in enumerate(callbacks):
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks[{index}] must be an accel.callbacks.Callback, got "
                                f"{type(callback).__name__}")
        self.callbacks = callbacks
        from .progress import ProgbarLogger
        self.history = next((c for c in callbacks if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        self.progbar = next((c for c in callbacks if isinstance(c, ProgbarLogger)), None)
        if self.progbar is None and add_progbar:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        # batch-end hooks that need values: only those are given (and cost) host reads
        self._batch_readers = {
            kind: [c for c in self.callbacks if _overrides(c, f"on_{kind}_batch_end", *(
                ("on_batch_end",) if kind == "train" else ()))] for kind in ("train", "test", "predict")}
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def set_model(self, model) -> None:
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def _each(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, logs=None): self._each("on_train_begin", logs or {})
    def on_train_end(self, logs=None): self._each("on_train_end", logs or {})
    def on_epoch_begin(self, epoch, logs=None): self._each("on_epoch_begin", epoch, logs or {})
    def on_epoch_end(self, epoch, logs=None): self._each("on_epoch_end", epoch, logs if logs is not None else {})
    def on_test_begin(self, logs=None): self._each("on_test_begin", logs or {})
    def on_test_end(self, logs=None): self._each("on_test_end", logs or {})
    def on_predict_begin(self, logs=None): self._each("on_predict_begin", logs or {})
    def on_predict_end(self, logs=None): self._each("on_predict_end", logs or {})
    def on_train_batch_begin(self, batch, logs=None): self._each("on_train_batch_begin", batch, logs or {})
    def on_test_batch_begin(self, batch, logs=None): self._each("on_test_batch_begin", batch, logs or {})
    def on_predict_batch_begin(self, batch, logs=None): self._each("on_predict_batch_begin", batch, logs or {})

    def _batch_end(self, kind: str, batch, logs) -> None:
        readers = self._batch_readers[kind]
        if not readers:
            return
        floats = None
        for callback in readers:
            if getattr(callback, "reads_lazily", False):  # the progress bar reads when it draws
                getattr(callback, f"on_{kind}_batch_end")(batch, logs)
            else:
                if floats is None:
                    floats = as_floats(logs) if kind != "predict" else dict(logs or {})
                getattr(callback, f"on_{kind}_batch_end")(batch, floats)

    def on_train_batch_end(self, batch, logs=None): self._batch_end("train", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._batch_end("test", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._batch_end("predict", batch, logs)


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
