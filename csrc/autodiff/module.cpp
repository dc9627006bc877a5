// accel._autodiff: the autodiff graph's hot code, compiled (graph.h says what and why).

#include "autodiff/graph.h"

NB_MODULE(_autodiff, m) {
    m.doc() = "The autodiff graph's hot code: Node, record (accel/recording.py) and the backward walk's loop "
              "(accel/autodiff/walk.py).";
    accel_autodiff::bind_node(m);
    accel_autodiff::bind_walk(m);
}
