"""accel.function's family: control flow (cond, while_loop) and print, TensorFlow's tf.cond,
tf.while_loop and tf.print. Eagerly they are plain Python over accel ops, so gradients flow
through the branch taken and through every iteration; tracing (accel.function itself) is
planned (issue 24)."""

from .control_flow import cond, while_loop
from .printing import print  # noqa: A004

__all__ = ["cond", "while_loop", "print"]
