"""accel.callbacks: hooks into fit / evaluate / predict with Keras 3's protocol and behaviour."""

from .callback import Callback, History, LambdaCallback
from .callback_list import CallbackList
from .files import CSVLogger, ModelCheckpoint
from .monitor import EarlyStopping, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN
from .progress import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "ReduceLROnPlateau", "EarlyStopping",
           "LearningRateScheduler", "TerminateOnNaN", "ModelCheckpoint", "CSVLogger", "ProgbarLogger"]
