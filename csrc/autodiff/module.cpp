// accel._autodiff: the eager autodiff hot path, compiled (graph.h says what and why).

#include "autodiff/graph.h"

NB_MODULE(_autodiff, m) {
    m.doc() = "The eager autodiff hot path: Node, record (accel/recording.py), the backward walk's loop "
              "(accel/autodiff/walk.py) and the elementwise ops' front (accel/ops/elementwise_op.py).";
    accel_autodiff::bind_node(m);
    accel_autodiff::bind_walk(m);
    accel_autodiff::bind_elementwise(m);
}
