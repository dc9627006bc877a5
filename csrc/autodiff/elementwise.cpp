// The compiled front of accel's elementwise ops (accel/ops/elementwise_op.py's `_unary` and `_binary`).
//
// The common call runs here: a tensor, or two tensors of one device, or a tensor and a Python
// number, on a device that computes without entering a context (the CPU), while accel.function is
// not tracing. The op's forward (a Python function of `xp` and arrays) computes; the front wraps
// the array as a Tensor and records the node when a tape is active, as the Python op does. Every
// other call (conversions, other devices, mismatched devices, integer inputs of ops that compute
// them as float32, keyword arguments, a trace) goes to the op's Python function, which handles
// everything; the front never raises an error of its own. Called as a method (Tensor.__add__ is
// the add op itself) it binds like a function.

#include "autodiff/graph.h"  // first: nanobind brings Python.h, which structmember.h needs

#include <structmember.h>

#include <cstddef>

namespace accel_autodiff {

namespace {

struct ElementwiseOp {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject* dict;     // __name__, __doc__, kernel, ... (set by elementwise.py)
    PyObject* python;   // the op in Python: every call the front does not take
    PyObject* forward;  // forward(xp, *arrays) -> array
    PyObject* host;     // host(*arrays) -> array on the CPU (the NumPy ufunc a math form is), or None
    PyObject* vjps;     // one VJP per input, or None (the op records nothing)
    Py_ssize_t arity;   // 1 or 2
    int to_float;       // integer inputs are computed as float32 (the Python op converts them)
};

// What the front calls back into, handed over once by elementwise.py (`configure_elementwise`).
struct Ops {
    PyObject* ndarray = nullptr;   // numpy.ndarray: what a forward returns on the CPU
    PyObject* as_array = nullptr;  // _core.as_array: a NumPy scalar as a 0-d array
};
Ops ops;

PyTypeObject* op_type = nullptr;

PyObject* to_python(ElementwiseOp* op, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    return PyObject_Vectorcall(op->python, args, nargsf, kwnames);
}

// The front's call: nullptr (with no error set) means "the Python op takes this call".
PyObject* fast_call(ElementwiseOp* op, PyObject* const* args, Py_ssize_t nargs) {
    PyObject* x = args[0];
    if (!PyObject_TypeCheck(x, reinterpret_cast<PyTypeObject*>(config.tensor))) return nullptr;
    nb::object trace = attr(config.state, names.trace);
    if (!trace.is_none()) return nullptr;
    nb::object device = attr(x, names.device);
    nb::object contextual = attr(device.ptr(), names.contextual);
    if (contextual.ptr() != Py_False) return nullptr;
    nb::object xd = attr(x, names.data);
    if (op->to_float && !is_floating_dtype(attr(xd.ptr(), names.dtype).ptr())) return nullptr;
    nb::object xp = attr(device.ptr(), names.xp);
    nb::object out;
    // The forward's first argument is xp; a host ufunc takes the arrays alone (one Python frame less).
    PyObject* const callee = op->host != Py_None ? op->host : op->forward;
    const Py_ssize_t skip = op->host != Py_None ? 1 : 0;
    if (nargs == 1) {
        PyObject* call[] = {xp.ptr(), xd.ptr()};
        out = nb::steal(PyObject_Vectorcall(callee, call + skip, 2 - skip, nullptr));
    } else {
        PyObject* y = args[1];
        nb::object yd;
        if (is_python_number(y)) {
            yd = nb::borrow(y);
        } else if (PyObject_TypeCheck(y, reinterpret_cast<PyTypeObject*>(config.tensor))) {
            if (attr(y, names.device).ptr() != device.ptr()) return nullptr;  // the Python op checks devices
            yd = attr(y, names.data);
        } else {
            return nullptr;
        }
        PyObject* call[] = {xp.ptr(), xd.ptr(), yd.ptr()};
        out = nb::steal(PyObject_Vectorcall(callee, call + skip, 3 - skip, nullptr));
    }
    if (!out.is_valid()) throw nb::python_error();
    if (Py_TYPE(out.ptr()) != reinterpret_cast<PyTypeObject*>(ops.ndarray)) {
        PyObject* call[] = {out.ptr()};
        out = nb::steal(PyObject_Vectorcall(ops.as_array, call, 1, nullptr));
        if (!out.is_valid()) throw nb::python_error();
    }
    nb::object result = nb::steal(new_tensor(out.ptr(), device.ptr()));
    if (!result.is_valid()) throw nb::python_error();
    nb::object tapes = attr(config.state, names.tapes);
    if (PyList_Check(tapes.ptr()) && PyList_GET_SIZE(tapes.ptr()) == 0) return result.release().ptr();
    nb::object inputs = nb::steal(nargs == 1 ? PyTuple_Pack(1, x) : PyTuple_Pack(2, x, args[1]));
    if (!inputs.is_valid()) throw nb::python_error();
    if (op->vjps != Py_None && is_floating_dtype(attr(out.ptr(), names.dtype).ptr())) {
        record(result.ptr(), inputs.ptr(), op->vjps, Py_None, tapes.ptr());
    } else {
        PyObject* call[] = {inputs.ptr()};
        nb::object done = nb::steal(PyObject_Vectorcall(config.watch_reads, call, 1, nullptr));
        if (!done.is_valid()) throw nb::python_error();
    }
    return result.release().ptr();
}

PyObject* op_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    ElementwiseOp* op = reinterpret_cast<ElementwiseOp*>(self);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != op->arity || (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) > 0))
        return to_python(op, args, nargsf, kwnames);
    try {
        PyObject* result = fast_call(op, args, nargs);
        if (result != nullptr) return result;
    } catch (nb::python_error& e) {
        e.restore();
        return nullptr;
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        return nullptr;
    }
    return to_python(op, args, nargsf, kwnames);
}

PyObject* op_new(PyTypeObject*, PyObject* args, PyObject* kwargs) {
    static const char* keywords[] = {"python", "forward", "vjps", "arity", "to_float", "host", nullptr};
    PyObject *python, *forward, *vjps;
    PyObject* host = Py_None;
    Py_ssize_t arity;
    int to_float = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOn|pO:ElementwiseOp", const_cast<char**>(keywords), &python,
                                     &forward, &vjps, &arity, &to_float, &host))
        return nullptr;
    if (arity != 1 && arity != 2) {
        PyErr_SetString(PyExc_ValueError, "ElementwiseOp: arity must be 1 or 2");
        return nullptr;
    }
    if (vjps != Py_None && !PyTuple_Check(vjps)) {
        PyErr_SetString(PyExc_TypeError, "ElementwiseOp: vjps must be a tuple or None");
        return nullptr;
    }
    PyObject* self = op_type->tp_alloc(op_type, 0);
    if (self == nullptr) return nullptr;
    ElementwiseOp* op = reinterpret_cast<ElementwiseOp*>(self);
    op->vectorcall = op_vectorcall;
    op->dict = PyDict_New();
    if (op->dict == nullptr) {
        Py_DECREF(self);
        return nullptr;
    }
    Py_INCREF(python);
    Py_INCREF(forward);
    Py_INCREF(host);
    Py_INCREF(vjps);
    op->python = python;
    op->forward = forward;
    op->host = host;
    op->vjps = vjps;
    op->arity = arity;
    op->to_float = to_float;
    return self;
}

int op_traverse(PyObject* self, visitproc visit, void* arg) {
    ElementwiseOp* op = reinterpret_cast<ElementwiseOp*>(self);
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(op->dict);
    Py_VISIT(op->python);
    Py_VISIT(op->forward);
    Py_VISIT(op->host);
    Py_VISIT(op->vjps);
    return 0;
}

int op_clear(PyObject* self) {
    ElementwiseOp* op = reinterpret_cast<ElementwiseOp*>(self);
    Py_CLEAR(op->dict);
    Py_CLEAR(op->python);
    Py_CLEAR(op->forward);
    Py_CLEAR(op->host);
    Py_CLEAR(op->vjps);
    return 0;
}

void op_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    PyTypeObject* type = Py_TYPE(self);
    op_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

// As a class attribute it binds like a function (Tensor.__add__ is the add op).
PyObject* op_get(PyObject* self, PyObject* obj, PyObject*) {
    if (obj == nullptr || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

// Pickled by reference, as a function is: the module's attribute of the op's name.
PyObject* op_reduce(PyObject* self, PyObject*) { return PyObject_GetAttrString(self, "__qualname__"); }

PyMethodDef op_methods[] = {
    {"__reduce__", op_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef op_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(ElementwiseOp, dict), READONLY, nullptr},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(ElementwiseOp, vectorcall), READONLY, nullptr},
    {"python", T_OBJECT_EX, offsetof(ElementwiseOp, python), READONLY, "The op in Python (every call the front does not take)."},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot op_slots[] = {
    {Py_tp_doc, const_cast<char*>(
        "ElementwiseOp(python, forward, vjps, arity, to_float=False, host=None): an elementwise op whose "
        "common call is compiled (computing with host(*arrays) when given, else forward(xp, *arrays)); every "
        "other call goes to `python`.")},
    {Py_tp_new, reinterpret_cast<void*>(op_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(op_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(op_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(op_clear)},
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_descr_get, reinterpret_cast<void*>(op_get)},
    {Py_tp_members, op_members},
    {Py_tp_methods, op_methods},
    {0, nullptr},
};

PyType_Spec op_spec = {"accel._autodiff.ElementwiseOp", sizeof(ElementwiseOp), 0,
                       Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                           Py_TPFLAGS_METHOD_DESCRIPTOR,
                       op_slots};

void configure_elementwise(nb::handle ndarray, nb::handle as_array) {
    if (!PyType_Check(ndarray.ptr())) throw nb::type_error("configure_elementwise: ndarray must be a class");
    Py_CLEAR(ops.ndarray);
    Py_CLEAR(ops.as_array);
    ops.ndarray = nb::borrow(ndarray).release().ptr();
    ops.as_array = nb::borrow(as_array).release().ptr();
}

}  // namespace

void bind_elementwise(nb::module_& m) {
    op_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&op_spec));
    if (op_type == nullptr) throw nb::python_error();
    Py_INCREF(op_type);  // the module's reference below, and this file's for the life of the process
    m.attr("ElementwiseOp") = nb::steal(reinterpret_cast<PyObject*>(op_type));
    m.def("configure_elementwise", &configure_elementwise, nb::arg("ndarray"), nb::arg("as_array"),
          "What the elementwise ops' compiled front calls back into.");
}

}  // namespace accel_autodiff
