"""CallbackList: calls each hook of every callback, in the order the callbacks were given.
`fit`, `evaluate` and `predict` drive one; History (and ProgbarLogger, unless verbose=0) are
added after the user's callbacks, as Keras does, so History records what they add to the
epoch's logs (`learning_rate`)."""

from __future__ import annotations

from .callback import Callback, History, as_floats, overrides
from .progress import ProgbarLogger

__all__ = ["CallbackList"]


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
            kind: [c for c in self.callbacks if overrides(c, f"on_{kind}_batch_end", *(
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
