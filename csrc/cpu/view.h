// A C-contiguous buffer of an array argument, held for one call (the arguments of every binding of
// accel._cpu; movable, so a launch can hold a vector of them).
#pragma once
#include <nanobind/nanobind.h>

#include <string>

namespace accel_cpu {

struct View {
    Py_buffer view{};
    bool held = false;
    View() = default;
    View(const View&) = delete;
    View& operator=(const View&) = delete;
    View(View&& other) noexcept : view(other.view), held(other.held) { other.held = false; }
    View& operator=(View&& other) noexcept {
        if (this != &other) {
            if (held) PyBuffer_Release(&view);
            view = other.view;
            held = other.held;
            other.held = false;
        }
        return *this;
    }
    ~View() {
        if (held) PyBuffer_Release(&view);
    }
    // false (and no error set) when `obj` has no C-contiguous buffer
    bool try_acquire(PyObject* obj, bool writable) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(obj, &view, flags) != 0) {
            PyErr_Clear();
            return false;
        }
        held = true;
        return true;
    }
    void acquire(nanobind::handle obj, bool writable, const char* argument) {
        if (!try_acquire(obj.ptr(), writable))
            throw nanobind::type_error((std::string(argument) + ": expected a C-contiguous array").c_str());
    }
    // the one-character struct format of the elements ('f', 'd', 'i', 'q', ...), or 0
    char format() const {
        const char* f = view.format ? view.format : "B";
        if (*f == '<' || *f == '=' || *f == '@') ++f;
        return f[1] == 0 ? f[0] : 0;
    }
    // 'f' or 'd' for a float32 / float64 buffer, else 0
    char float_kind() const {
        const char f = format();
        return (f == 'f' && view.itemsize == 4) || (f == 'd' && view.itemsize == 8) ? f : 0;
    }
    long long size() const { return view.itemsize ? view.len / view.itemsize : 0; }
    bool same_shape(const View& other) const {
        if (view.ndim != other.view.ndim) return false;
        for (int i = 0; i < view.ndim; ++i)
            if (view.shape[i] != other.view.shape[i]) return false;
        return true;
    }
};

}  // namespace accel_cpu
