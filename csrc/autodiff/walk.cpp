// The inner loop of the reverse-mode graph walk (accel._autodiff.walk).
//
// accel/autodiff/backprop.py sets the walk up (targets, weights, which tapes and stops apply) and
// reads its result; this loop runs between: pop the tensor created last, call the VJP of each of
// its node's inputs that takes part, sum each contribution down to the input's shape (`sum_to`)
// and cast it to its dtype (`cast`), add it to what the input already has, and queue the input's
// own node. A gradient that is not a Tensor (IndexedSlices) goes through `sparse.accumulate` and,
// when its tensor's node passes it on, `sparse.densify` (accel/autodiff/sparse_grads.py).
// accel/autodiff/walk.py's `walk_python` is the same loop, statement for statement.
// Everything it computes with is a Python object (VJPs, tensors, the accumulation's `+`), so a tape
// recording the walk still records every op it runs (higher orders), and an exception in a VJP
// propagates unchanged.

#include <algorithm>
#include <utility>
#include <vector>

#include "autodiff/graph.h"

namespace accel_autodiff {

namespace {

bool set_contains(PyObject* set, PyObject* item) {
    int r = PySet_Contains(set, item);
    if (r < 0) throw nb::python_error();
    return r == 1;
}

nb::object call(PyObject* f, std::initializer_list<PyObject*> args) {
    PyObject* r = PyObject_Vectorcall(f, const_cast<PyObject**>(args.begin()), args.size(), nullptr);
    if (r == nullptr) throw nb::python_error();
    return nb::steal(r);
}

// A max-heap on the creation sequence number: the tensor computed last pops first, so every tensor
// pops after all the tensors computed from it (walk_python's heap of (-seq, tensor)).
struct Queued {
    long long seq;
    nb::object tensor;
};
bool before(const Queued& a, const Queued& b) { return a.seq < b.seq; }

class Walk {
public:
    Walk(nb::handle grads, nb::handle queued, nb::handle wanted, nb::handle tape_id, nb::handle watched,
         nb::handle stop_ids, bool release, nb::handle sum_to, nb::handle cast, nb::handle after_node,
         nb::handle sparse)
        : grads_(grads.ptr()), queued_(queued.ptr()), wanted_(wanted.ptr()), tape_id_(tape_id.is_none() ? nullptr : tape_id.ptr()),
          watched_(watched.is_none() ? nullptr : watched.ptr()), stop_ids_(stop_ids.ptr()),
          has_stops_(PySet_GET_SIZE(stop_ids.ptr()) > 0), release_(release), sum_to_(sum_to.ptr()),
          cast_(cast.ptr()), after_node_(after_node.is_none() ? nullptr : after_node.ptr()),
          accumulate_(nb::getattr(sparse, "accumulate")), densify_(nb::getattr(sparse, "densify")) {}

    void push(nb::handle tensor, PyObject* node) {
        heap_.push_back({as_node(node)->seq, nb::borrow(tensor)});
        std::push_heap(heap_.begin(), heap_.end(), before);
    }

    void run() {
        std::vector<PyObject*> args;
        while (!heap_.empty()) {
            std::pop_heap(heap_.begin(), heap_.end(), before);
            nb::object tensor = std::move(heap_.back().tensor);
            heap_.pop_back();
            nb::object key = nb::steal(PyLong_FromVoidPtr(tensor.ptr()));
            nb::object g = gradient_of(key.ptr());
            // IndexedSlices reaching a node: its VJPs take the dense tensor (walk_python says so)
            if (!is_tensor(g.ptr())) g = call(densify_.ptr(), {g.ptr()});
            nb::object node_object = attr(tensor.ptr(), names.node);  // kept alive while its VJPs run
            Node* node = as_node(node_object.ptr());
            nb::object inputs = nb::borrow(node->inputs), values = nb::borrow(node->values);
            nb::object params = nb::borrow(node->params), vjps = nb::borrow(node->vjp);
            PyObject* kwargs = nullptr;
            if (params.ptr() != Py_None) {
                if (!PyDict_Check(params.ptr())) throw nb::type_error("backward: a node's params must be a dict or None");
                if (PyDict_GET_SIZE(params.ptr()) > 0) kwargs = params.ptr();
            }
            nb::object input_seq = nb::steal(PySequence_Fast(inputs.ptr(), "backward: a node's inputs must be a sequence"));
            nb::object value_seq = nb::steal(PySequence_Fast(values.ptr(), "backward: a node's values must be a sequence"));
            if (!input_seq.is_valid() || !value_seq.is_valid()) throw nb::python_error();
            Py_ssize_t n = PySequence_Fast_GET_SIZE(input_seq.ptr());
            Py_ssize_t n_values = PySequence_Fast_GET_SIZE(value_seq.ptr());
            // A node's VJPs are a tuple, or a sequence that makes each on request (accel.function's
            // call node: indexed, never iterated).
            bool vjp_tuple = PyTuple_Check(vjps.ptr());
            if (vjp_tuple && PyTuple_GET_SIZE(vjps.ptr()) < n) throw nb::value_error("backward: a node has fewer VJPs than inputs");
            args.assign(2 + n_values, nullptr);
            args[0] = g.ptr();
            args[1] = tensor.ptr();
            for (Py_ssize_t j = 0; j < n_values; ++j) args[2 + j] = PySequence_Fast_GET_ITEM(value_seq.ptr(), j);
            for (Py_ssize_t i = 0; i < n; ++i) {
                PyObject* x = PySequence_Fast_GET_ITEM(input_seq.ptr(), i);
                nb::object vjp = vjp_tuple ? nb::borrow(PyTuple_GET_ITEM(vjps.ptr(), i))
                                           : nb::steal(PySequence_GetItem(vjps.ptr(), i));
                if (!vjp.is_valid()) throw nb::python_error();
                if (vjp.is_none()) continue;
                edge(x, vjp.ptr(), args, kwargs);
            }
            if (after_node_ != nullptr) call(after_node_, {inputs.ptr()});
            if (release_ && tape_id_ != nullptr) {
                PyObject* tapes = node->tapes;
                if (PyTuple_Check(tapes) && PyTuple_GET_SIZE(tapes) == 1) {
                    int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(tapes, 0), tape_id_, Py_EQ);
                    if (same < 0) throw nb::python_error();
                    if (same && PyObject_SetAttr(tensor.ptr(), names.node, Py_None) < 0) throw nb::python_error();
                }
            }
        }
    }

private:
    // g = grads.get(key) if key in wanted else grads.pop(key)
    nb::object gradient_of(PyObject* key) {
        PyObject* g = PyDict_GetItemWithError(grads_, key);
        if (g == nullptr) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "backward: a queued tensor has no gradient");
            throw nb::python_error();
        }
        nb::object result = nb::borrow(g);
        if (!set_contains(wanted_, key) && PyDict_DelItem(grads_, key) < 0) throw nb::python_error();
        return result;
    }

    // One edge: input x of the node just popped, whose VJP is `vjp`.
    void edge(PyObject* x, PyObject* vjp, const std::vector<PyObject*>& args, PyObject* kwargs) {
        if (Py_TYPE(x) != reinterpret_cast<PyTypeObject*>(config.tensor)) {
            int is_tensor = PyObject_IsInstance(x, config.tensor);
            if (is_tensor < 0) throw nb::python_error();
            if (!is_tensor) return;  // a constant operand
        }
        nb::object xd = attr(x, names.data);
        nb::object x_dtype = attr(xd.ptr(), names.dtype);
        if (!is_floating_dtype(x_dtype.ptr())) return;
        nb::object xk = nb::steal(PyLong_FromVoidPtr(x));
        if (tape_id_ != nullptr && !contains(attr(x, names.tensor_tapes).ptr(), tape_id_) &&
            !(watched_ != nullptr && contains(watched_, xk.ptr())))
            return;
        PyObject* r = PyObject_VectorcallDict(vjp, const_cast<PyObject**>(args.data()), args.size(), kwargs);
        if (r == nullptr) throw nb::python_error();
        nb::object gi = nb::steal(r);
        if (gi.is_none()) return;
        PyObject* previous = PyDict_GetItemWithError(grads_, xk.ptr());
        if (previous == nullptr && PyErr_Occurred()) throw nb::python_error();
        if (!is_tensor(gi.ptr()) || (previous != nullptr && !is_tensor(previous))) {
            // IndexedSlices: kept sparse while only slices arrive (accel.autodiff.sparse_grads)
            gi = call(accumulate_.ptr(), {previous != nullptr ? previous : Py_None, gi.ptr(), x});
            previous = nullptr;
        } else {
            nb::object gd = attr(gi.ptr(), names.data);
            nb::object x_shape = attr(xd.ptr(), names.shape);
            int differs = PyObject_RichCompareBool(attr(gd.ptr(), names.shape).ptr(), x_shape.ptr(), Py_NE);
            if (differs < 0) throw nb::python_error();
            nb::object g_dtype = attr(gd.ptr(), names.dtype);
            if (differs) gi = call(sum_to_, {gi.ptr(), x_shape.ptr()});
            if (g_dtype.ptr() != x_dtype.ptr()) {
                int cast = PyObject_RichCompareBool(g_dtype.ptr(), x_dtype.ptr(), Py_NE);
                if (cast < 0) throw nb::python_error();
                if (cast) gi = call(cast_, {gi.ptr(), x_dtype.ptr()});
            }
        }
        if (previous != nullptr) {
            PyObject* sum = PyNumber_Add(previous, gi.ptr());
            if (sum == nullptr) throw nb::python_error();
            gi = nb::steal(sum);
        }
        if (PyDict_SetItem(grads_, xk.ptr(), gi.ptr()) < 0) throw nb::python_error();
        if (set_contains(queued_, xk.ptr())) return;
        if (PySet_Add(queued_, xk.ptr()) < 0) throw nb::python_error();
        nb::object x_node = attr(x, names.node);
        if (x_node.is_none() || (has_stops_ && set_contains(stop_ids_, xk.ptr()))) return;
        if (tape_id_ != nullptr && !contains(as_node(x_node.ptr())->tapes, tape_id_)) return;
        push(nb::handle(x), x_node.ptr());
    }

    PyObject *grads_, *queued_, *wanted_, *tape_id_, *watched_, *stop_ids_;
    bool has_stops_, release_;
    PyObject *sum_to_, *cast_, *after_node_;
    nb::object accumulate_, densify_;
    std::vector<Queued> heap_;

    // Whether `o` is an accel Tensor (a gradient that is not: IndexedSlices).
    static bool is_tensor(PyObject* o) {
        if (Py_TYPE(o) == reinterpret_cast<PyTypeObject*>(config.tensor)) return true;
        int r = PyObject_IsInstance(o, config.tensor);
        if (r < 0) throw nb::python_error();
        return r == 1;
    }
};

void walk(nb::list roots, nb::handle grads, nb::handle queued, nb::handle wanted, nb::handle tape_id,
          nb::handle watched, nb::handle stop_ids, bool release, nb::handle sum_to, nb::handle cast,
          nb::handle after_node, nb::handle sparse) {
    if (config.tensor == nullptr) throw nb::type_error("walk: accel._autodiff.configure was not called");
    if (!PyDict_Check(grads.ptr())) throw nb::type_error("walk: grads must be a dict");
    if (!PySet_Check(queued.ptr())) throw nb::type_error("walk: queued must be a set");
    if (!PyAnySet_Check(wanted.ptr())) throw nb::type_error("walk: wanted must be a set");
    if (!PyAnySet_Check(stop_ids.ptr())) throw nb::type_error("walk: stop_ids must be a set");
    if (!watched.is_none() && !PyDict_Check(watched.ptr())) throw nb::type_error("walk: watched must be a dict or None");
    Walk w(grads, queued, wanted, tape_id, watched, stop_ids, release, sum_to, cast, after_node, sparse);
    for (nb::handle tensor : roots) w.push(tensor, attr(tensor.ptr(), names.node).ptr());
    w.run();
}

}  // namespace

void bind_walk(nb::module_& m) {
    m.def("walk", &walk, nb::arg("roots"), nb::arg("grads"), nb::arg("queued"), nb::arg("wanted"), nb::arg("tape_id").none(), nb::arg("watched").none(),
          nb::arg("stop_ids"), nb::arg("release"), nb::arg("sum_to"), nb::arg("cast"), nb::arg("after_node").none(), nb::arg("sparse"),
          "Run the walk from `roots` (tensors whose nodes it passes through), accumulating into `grads` "
          "({id(tensor): gradient}); see accel.autodiff.walk.walk_python.");
}

}  // namespace accel_autodiff
