// The autodiff graph's hot code, compiled (accel._autodiff): the recorded node, `record`, and the
// backward walk's loop. accel/recording.py and accel/autodiff/walk.py state the same code in
// Python (the readable statement, and the oracle the tests compare with).
#pragma once

#include <nanobind/nanobind.h>

namespace accel_autodiff {

namespace nb = nanobind;

// One recorded op (accel.recording.Node): `vjp[i](g, ans, *values, **params)` gives the gradient
// for input i; `seq` numbers nodes in creation order, so decreasing seq is a reverse topological
// order. The members are Python attributes (all writable but seq), as the Python class's slots.
struct Node {
    PyObject_HEAD
    PyObject* vjp;
    PyObject* inputs;
    PyObject* values;
    PyObject* params;
    PyObject* tapes;
    long long seq;
};

extern PyTypeObject* node_type;

inline bool is_node(PyObject* o) { return Py_TYPE(o) == node_type; }

// A new node (a strong reference); `values` nullptr or None: the inputs themselves.
PyObject* new_node(PyObject* vjp, PyObject* inputs, PyObject* params, PyObject* tapes, PyObject* values);

// The attribute names the compiled code reads, interned once.
struct Names {
    PyObject *data, *node, *tapes, *node_tapes, *dtype, *shape, *inputs, *values, *params, *vjp, *seq, *id,
        *watched;
};
extern Names names;

inline nb::object attr(PyObject* o, PyObject* name) {
    PyObject* r = PyObject_GetAttr(o, name);
    if (r == nullptr) throw nb::python_error();
    return nb::steal(r);
}

inline bool contains(PyObject* container, PyObject* item) {
    int r = PySequence_Contains(container, item);
    if (r < 0) throw nb::python_error();
    return r == 1;
}

void bind_node(nb::module_& m);
void bind_walk(nb::module_& m);

}  // namespace accel_autodiff
