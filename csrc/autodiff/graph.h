// The eager autodiff hot path, compiled (accel._autodiff): the recorded node, `record`, the
// backward walk's loop, and the front of the elementwise ops. accel/recording.py,
// accel/autodiff/walk.py and accel/ops/elementwise_op.py state the same code in Python (the readable
// statement, and what the tests compare with); per-op Python bookkeeping was the largest cost of
// small-tensor autodiff.
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

// `o` as a Node (every tensor's _node is one: recording.Node is this type); TypeError otherwise.
inline Node* as_node(PyObject* o) {
    if (Py_TYPE(o) != node_type) throw nb::type_error("backward: a tensor's _node is not an accel Node");
    return reinterpret_cast<Node*>(o);
}

// A new accel.Tensor holding `data` on `device`, built as Tensor.__init__ builds one (no node, no
// tapes), without running Python (a strong reference, or nullptr with the error set).
PyObject* new_tensor(PyObject* data, PyObject* device);

// A new node (a strong reference); `values` nullptr or None: the inputs themselves.
PyObject* new_node(PyObject* vjp, PyObject* inputs, PyObject* params, PyObject* tapes, PyObject* values);

// The attribute names the compiled code reads, interned once (`tensor_tapes` is a tensor's
// `_tapes`, `tapes` the recording state's).
struct Names {
    PyObject *data, *device, *node, *tensor_tapes, *dtype, *shape, *id, *watched, *tapes, *trace, *contextual, *xp;
};
extern Names names;

// What the compiled code calls back into, handed over once by accel/recording.py (`configure`).
struct Config {
    PyObject* state = nullptr;           // recording.state: the thread's tapes and trace
    PyObject* tensor = nullptr;          // accel.Tensor (exactly: Variables take the slow path)
    PyObject* variable = nullptr;        // accel.Variable
    PyObject* watches = nullptr;         // recording._watches(tape, x): whether tape watches x (may watch it)
    PyObject* capture_values = nullptr;  // recording.capture_values(inputs, tapes): Variables as captures
    PyObject* watch_reads = nullptr;     // recording.watch_reads(inputs): an op that records nothing
    PyObject* is_floating = nullptr;     // dtypes.is_differentiable: THE predicate of differentiable dtypes
    PyObject* float_dtypes = nullptr;    // the supported dtypes it holds for, compared by identity first
    PyObject* complex_dtypes = nullptr;  // dtypes.COMPLEX: a node where one takes part records...
    PyObject* complex_vjps = nullptr;    // ...complex_grads.complex_vjps(vjp, inputs) instead of vjp
};
extern Config config;

// dtypes.is_differentiable(dtype), without a call for the supported differentiable dtypes.
bool is_floating_dtype(PyObject* dtype);

// recording.record: `tapes` is the thread's list of active tapes.
void record(PyObject* out, PyObject* inputs, PyObject* vjp, PyObject* params, PyObject* tapes);

inline nb::object attr(PyObject* o, PyObject* name) {
    PyObject* r = PyObject_GetAttr(o, name);
    if (r == nullptr) throw nb::python_error();
    return nb::steal(r);
}

// A Python int, float or bool: an operand no tape watches.
inline bool is_python_number(PyObject* x) { return PyFloat_CheckExact(x) || PyLong_CheckExact(x) || PyBool_Check(x); }

inline bool contains(PyObject* container, PyObject* item) {
    int r = PySequence_Contains(container, item);
    if (r < 0) throw nb::python_error();
    return r == 1;
}

void bind_node(nb::module_& m);
void bind_walk(nb::module_& m);
void bind_elementwise(nb::module_& m);

}  // namespace accel_autodiff
