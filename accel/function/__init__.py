"""accel.function: TensorFlow's tf.function (trace once per input signature, replay the graph on
raw arrays, fuse elementwise chains), with control flow (cond, while_loop) and print.

Modules: spec (what shares a trace), trace (recording op calls), graph (folding, pruning and
running a trace), call_node (a call under a tape as one node), fusion (elementwise chains as
numexpr programs) and fusion_cuda (as generated CUDA kernels), function (the decorator and its
cache), control_flow, printing.
"""

from .control_flow import cond, while_loop
from .function import ConcreteFunction, Function, function
from .printing import print  # noqa: A004
from .spec import TensorSpec

__all__ = ["cond", "while_loop", "print", "function", "Function", "ConcreteFunction", "TensorSpec"]
