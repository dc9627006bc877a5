// The recorded node (accel.recording.Node) and `record`, which attaches one to an op's output for
// every active tape that watches one of its inputs. accel/recording.py's `record_python` is the
// same function in Python; this one is compiled because every recorded op calls it (it was ~0.5 us
// of Python per op, a fifth of a small-tensor op under a tape).

#include "autodiff/graph.h"  // first: nanobind brings Python.h, which structmember.h needs

#include <structmember.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace accel_autodiff {

PyTypeObject* node_type = nullptr;
Names names;

namespace {

long long g_next_seq = 0;  // every node's creation number (the GIL orders the increments)

int node_traverse(PyObject* self, visitproc visit, void* arg) {
    Node* n = reinterpret_cast<Node*>(self);
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(n->vjp);
    Py_VISIT(n->inputs);
    Py_VISIT(n->values);
    Py_VISIT(n->params);
    Py_VISIT(n->tapes);
    return 0;
}

int node_clear(PyObject* self) {
    Node* n = reinterpret_cast<Node*>(self);
    Py_CLEAR(n->vjp);
    Py_CLEAR(n->inputs);
    Py_CLEAR(n->values);
    Py_CLEAR(n->params);
    Py_CLEAR(n->tapes);
    return 0;
}

void node_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    // A long chain of nodes is freed one link at a time, not by recursion (CPython's trashcan).
    Py_TRASHCAN_BEGIN(self, node_dealloc)
    PyTypeObject* type = Py_TYPE(self);
    node_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
    Py_TRASHCAN_END
}

PyObject* node_new(PyTypeObject*, PyObject* args, PyObject* kwargs) {
    static const char* keywords[] = {"vjp", "inputs", "params", "tapes", "values", nullptr};
    PyObject *vjp, *inputs, *params, *tapes, *values = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO|O:Node", const_cast<char**>(keywords), &vjp, &inputs,
                                     &params, &tapes, &values))
        return nullptr;
    return new_node(vjp, inputs, params, tapes, values);
}

PyMemberDef node_members[] = {
    {"vjp", T_OBJECT_EX, offsetof(Node, vjp), 0, "One VJP per input (None: no gradient flows to it)."},
    {"inputs", T_OBJECT_EX, offsetof(Node, inputs), 0, "What gradients flow to."},
    {"values", T_OBJECT_EX, offsetof(Node, values), 0,
     "What the VJPs read: the inputs, a Variable replaced by its value at record time."},
    {"params", T_OBJECT_EX, offsetof(Node, params), 0, "The VJPs' keyword arguments (None: none)."},
    {"tapes", T_OBJECT_EX, offsetof(Node, tapes), 0, "The ids of the tapes that recorded the op."},
    {"seq", T_LONGLONG, offsetof(Node, seq), READONLY, "The creation number: decreasing seq is a reverse topological order."},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot node_slots[] = {
    {Py_tp_doc, const_cast<char*>(
        "Node(vjp, inputs, params, tapes, values=None): one recorded op; vjp[i](g, ans, *values, **params) gives "
        "the gradient for input i.")},
    {Py_tp_new, reinterpret_cast<void*>(node_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(node_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(node_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(node_clear)},
    {Py_tp_members, node_members},
    {0, nullptr},
};

PyType_Spec node_spec = {"accel._autodiff.Node", sizeof(Node), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
                         node_slots};

// Whether the tape (id, watched) watches the plain tensor x: tape_id in x._tapes or id(x) in watched.
bool tensor_watched(PyObject* x, PyObject* tape_id, PyObject* watched) {
    if (contains(attr(x, names.tensor_tapes).ptr(), tape_id)) return true;
    if (PyDict_Check(watched) && PyDict_GET_SIZE(watched) == 0) return false;
    nb::object key = nb::steal(PyLong_FromVoidPtr(x));
    return contains(watched, key.ptr());
}

void record_binding(nb::handle out, nb::handle inputs, nb::handle vjp, nb::handle params) {
    if (config.state == nullptr) throw nb::type_error("record: accel._autodiff.configure was not called");
    record(out.ptr(), inputs.ptr(), vjp.ptr(), params.ptr(), attr(config.state, names.tapes).ptr());
}

// Where Tensor keeps a slot (its member descriptor's offset), found once by `configure`.
Py_ssize_t slot_offset(PyObject* type, const char* name) {
    PyObject* descr = PyDict_GetItemString(reinterpret_cast<PyTypeObject*>(type)->tp_dict, name);  // borrowed
    if (descr == nullptr || Py_TYPE(descr) != &PyMemberDescr_Type ||
        reinterpret_cast<PyMemberDescrObject*>(descr)->d_member->type != T_OBJECT_EX)
        throw nb::type_error((std::string("configure: the tensor class has no __slots__ entry ") + name).c_str());
    return reinterpret_cast<PyMemberDescrObject*>(descr)->d_member->offset;
}

struct TensorSlots {
    Py_ssize_t data, device, node, tapes, saved;
};
TensorSlots tensor_slots;

void configure(nb::handle state, nb::handle tensor, nb::handle variable, nb::handle watches,
               nb::handle capture_values, nb::handle watch_reads, nb::handle is_floating, nb::handle float_dtypes,
               nb::handle complex_dtypes, nb::handle complex_vjps) {
    if (!PyType_Check(tensor.ptr()) || !PyType_Check(variable.ptr()))
        throw nb::type_error("configure: tensor and variable must be classes");
    if (!PyTuple_Check(float_dtypes.ptr()) || !PyTuple_Check(complex_dtypes.ptr()))
        throw nb::type_error("configure: float_dtypes and complex_dtypes must be tuples");
    tensor_slots = {slot_offset(tensor.ptr(), "_data"), slot_offset(tensor.ptr(), "_device"),
                    slot_offset(tensor.ptr(), "_node"), slot_offset(tensor.ptr(), "_tapes"),
                    slot_offset(tensor.ptr(), "_saved")};
    std::pair<PyObject**, nb::handle> given[] = {
        {&config.state, state}, {&config.tensor, tensor}, {&config.variable, variable}, {&config.watches, watches},
        {&config.capture_values, capture_values}, {&config.watch_reads, watch_reads},
        {&config.is_floating, is_floating}, {&config.float_dtypes, float_dtypes},
        {&config.complex_dtypes, complex_dtypes}, {&config.complex_vjps, complex_vjps}};
    for (auto& [slot, value] : given) {
        Py_CLEAR(*slot);
        *slot = nb::borrow(value).release().ptr();
    }
}

PyObject* intern(const char* s) {
    PyObject* name = PyUnicode_InternFromString(s);
    if (name == nullptr) throw nb::python_error();
    return name;  // kept for the life of the process
}

}  // namespace

Config config;

// Whether an op's input is a tensor (a Variable too), not a constant operand.
static bool is_tensor_input(PyObject* x) {
    if (Py_TYPE(x) == reinterpret_cast<PyTypeObject*>(config.tensor)) return true;
    if (is_python_number(x)) return false;
    int tensor = PyObject_IsInstance(x, config.tensor);
    if (tensor < 0) throw nb::python_error();
    return tensor == 1;
}

// Every tensor input of a node: its `_saved` slot set to True (item_assignment.py refuses to
// write into a tensor a VJP will read).
static void mark_saved(PyObject* input_seq) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(input_seq);
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* x = PySequence_Fast_GET_ITEM(input_seq, i);
        if (!is_tensor_input(x)) continue;
        PyObject** slot = reinterpret_cast<PyObject**>(reinterpret_cast<char*>(x) + tensor_slots.saved);
        if (*slot == Py_True) continue;
        PyObject* old = *slot;
        Py_INCREF(Py_True);
        *slot = Py_True;
        Py_XDECREF(old);
    }
}

// Whether a complex array takes part: `out`'s or a tensor input's dtype is complex.
static bool is_complex_dtype_of(PyObject* tensor) {
    PyObject* data = *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(tensor) + tensor_slots.data);
    if (data == nullptr) return false;
    nb::object dtype = attr(data, names.dtype);
    Py_ssize_t n = PyTuple_GET_SIZE(config.complex_dtypes);
    for (Py_ssize_t i = 0; i < n; ++i)
        if (PyTuple_GET_ITEM(config.complex_dtypes, i) == dtype.ptr()) return true;
    return false;
}

static bool complex_involved(PyObject* out, PyObject* input_seq) {
    if (is_complex_dtype_of(out)) return true;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(input_seq);
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* x = PySequence_Fast_GET_ITEM(input_seq, i);
        if (is_tensor_input(x) && is_complex_dtype_of(x)) return true;
    }
    return false;
}

// Attach a node to `out` for every active tape (`tapes`, the thread's list) that watches one of
// `inputs`. Every input is offered to every tape (no early exit for Variables), so each trainable
// Variable an op reads is watched, as in TensorFlow.
void record(PyObject* out, PyObject* inputs, PyObject* vjp, PyObject* params, PyObject* tapes) {
    nb::object seq = nb::steal(PySequence_Fast(tapes, "record: the tapes must be a list"));
    if (!seq.is_valid()) throw nb::python_error();
    nb::object input_seq = nb::steal(PySequence_Fast(inputs, "record: inputs must be a sequence"));
    if (!input_seq.is_valid()) throw nb::python_error();
    Py_ssize_t n_tapes = PySequence_Fast_GET_SIZE(seq.ptr());
    Py_ssize_t n = PySequence_Fast_GET_SIZE(input_seq.ptr());
    std::vector<nb::object> ids;
    bool has_variable = false;
    for (Py_ssize_t t = 0; t < n_tapes; ++t) {
        PyObject* tape = PySequence_Fast_GET_ITEM(seq.ptr(), t);
        nb::object tape_id = attr(tape, names.id);
        nb::object watched = attr(tape, names.watched);
        bool hit = false;
        for (Py_ssize_t i = 0; i < n; ++i) {
            PyObject* x = PySequence_Fast_GET_ITEM(input_seq.ptr(), i);
            if (Py_TYPE(x) == reinterpret_cast<PyTypeObject*>(config.tensor)) {  // the common case
                if (!hit && tensor_watched(x, tape_id.ptr(), watched.ptr())) hit = true;
                continue;
            }
            if (is_python_number(x)) continue;  // never watched
            int variable = PyObject_IsInstance(x, config.variable);
            if (variable < 0) throw nb::python_error();
            if (variable) has_variable = true;
            PyObject* args[] = {tape, x};
            nb::object watches = nb::steal(PyObject_Vectorcall(config.watches, args, 2, nullptr));
            if (!watches.is_valid()) throw nb::python_error();
            int truth = PyObject_IsTrue(watches.ptr());
            if (truth < 0) throw nb::python_error();
            if (truth) hit = true;
        }
        if (hit) ids.push_back(std::move(tape_id));
    }
    if (ids.empty()) return;
    mark_saved(input_seq.ptr());
    nb::object complex_vjp;
    if (complex_involved(out, input_seq.ptr())) {  // TensorFlow's complex gradients (complex_grads.py)
        PyObject* args[] = {vjp, inputs};
        complex_vjp = nb::steal(PyObject_Vectorcall(config.complex_vjps, args, 2, nullptr));
        if (!complex_vjp.is_valid()) throw nb::python_error();
        vjp = complex_vjp.ptr();
    }
    nb::object tape_ids = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(ids.size())));
    if (!tape_ids.is_valid()) throw nb::python_error();
    for (size_t k = 0; k < ids.size(); ++k) PyTuple_SET_ITEM(tape_ids.ptr(), k, ids[k].release().ptr());
    if (PyObject_SetAttr(out, names.tensor_tapes, tape_ids.ptr()) < 0) throw nb::python_error();
    nb::object values;
    if (has_variable) {
        PyObject* args[] = {inputs, tape_ids.ptr()};
        values = nb::steal(PyObject_Vectorcall(config.capture_values, args, 2, nullptr));
        if (!values.is_valid()) throw nb::python_error();
    }
    nb::object node = nb::steal(new_node(vjp, inputs, params, tape_ids.ptr(), values.is_valid() ? values.ptr() : nullptr));
    if (!node.is_valid()) throw nb::python_error();
    if (PyObject_SetAttr(out, names.node, node.ptr()) < 0) throw nb::python_error();
}

bool is_floating_dtype(PyObject* dtype) {
    Py_ssize_t n = PyTuple_GET_SIZE(config.float_dtypes);
    for (Py_ssize_t i = 0; i < n; ++i)
        if (PyTuple_GET_ITEM(config.float_dtypes, i) == dtype) return true;
    PyObject* args[] = {dtype};
    nb::object answer = nb::steal(PyObject_Vectorcall(config.is_floating, args, 1, nullptr));
    if (!answer.is_valid()) throw nb::python_error();
    int truth = PyObject_IsTrue(answer.ptr());
    if (truth < 0) throw nb::python_error();
    return truth == 1;
}

PyObject* new_tensor(PyObject* data, PyObject* device) {
    PyTypeObject* type = reinterpret_cast<PyTypeObject*>(config.tensor);
    PyObject* self = type->tp_alloc(type, 0);  // zeroed (no weak references yet), tracked by the GC
    if (self == nullptr) return nullptr;
    PyObject* empty = PyTuple_New(0);
    if (empty == nullptr) {
        Py_DECREF(self);
        return nullptr;
    }
    char* base = reinterpret_cast<char*>(self);
    Py_INCREF(data);
    Py_INCREF(device);
    Py_INCREF(Py_None);
    *reinterpret_cast<PyObject**>(base + tensor_slots.data) = data;
    *reinterpret_cast<PyObject**>(base + tensor_slots.device) = device;
    *reinterpret_cast<PyObject**>(base + tensor_slots.node) = Py_None;
    *reinterpret_cast<PyObject**>(base + tensor_slots.tapes) = empty;
    return self;
}

PyObject* new_node(PyObject* vjp, PyObject* inputs, PyObject* params, PyObject* tapes, PyObject* values) {
    PyObject* self = node_type->tp_alloc(node_type, 0);
    if (self == nullptr) return nullptr;
    Node* n = reinterpret_cast<Node*>(self);
    if (values == nullptr || values == Py_None) values = inputs;
    Py_INCREF(vjp);
    Py_INCREF(inputs);
    Py_INCREF(values);
    Py_INCREF(params);
    Py_INCREF(tapes);
    n->vjp = vjp;
    n->inputs = inputs;
    n->values = values;
    n->params = params;
    n->tapes = tapes;
    n->seq = g_next_seq++;
    return self;
}

void bind_node(nb::module_& m) {
    names = {intern("_data"), intern("_device"), intern("_node"), intern("_tapes"), intern("dtype"), intern("shape"),
             intern("id"), intern("watched"), intern("tapes"), intern("trace"), intern("contextual"), intern("_xp")};
    node_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&node_spec));
    if (node_type == nullptr) throw nb::python_error();
    Py_INCREF(node_type);  // the module's reference below, and this file's for the life of the process
    m.attr("Node") = nb::steal(reinterpret_cast<PyObject*>(node_type));
    m.def("record", &record_binding, nb::arg("out"), nb::arg("inputs"), nb::arg("vjp"), nb::arg("params").none(),
          "Attach a Node to `out` for every active tape that watches one of `inputs` (see recording.record_python).");
    m.def("configure", &configure, nb::arg("state"), nb::arg("tensor"), nb::arg("variable"), nb::arg("watches"),
          nb::arg("capture_values"), nb::arg("watch_reads"), nb::arg("is_floating"), nb::arg("float_dtypes"),
          nb::arg("complex_dtypes"), nb::arg("complex_vjps"),
          "What the compiled code reads: the thread's tapes, the tensor classes, the slow paths, the dtype predicate.");
}

}  // namespace accel_autodiff
