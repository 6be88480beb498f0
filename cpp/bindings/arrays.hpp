// Reading NumPy arrays as raw pointers without ever copying them.
//
// The Python layer checks every array and reports problems with the user's indices;
// these checks only make sure a misuse of the private module cannot touch memory
// that is not an array's own.
#pragma once

#include <fastoptim/engine.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <string>

namespace fastoptim::bindings {

namespace py = pybind11;

inline std::string indexed(const char* what, std::size_t index) {
    return std::string(what) + "[" + std::to_string(index) + "]";
}

inline py::array as_array(py::handle object, const char* what, std::size_t index) {
    // py::array's own caster would build a converted copy; an in-place update of a
    // copy is a lost update, so anything but an ndarray is refused.
    if (!py::isinstance<py::array>(object)) {
        throw py::type_error(indexed(what, index) + " is not a numpy.ndarray");
    }
    return py::reinterpret_borrow<py::array>(object);
}

inline precision precision_of(const py::array& array, const char* what,
                              std::size_t index) {
    if (array.dtype().equal(py::dtype::of<float>())) {
        return precision::float32;
    }
    if (array.dtype().equal(py::dtype::of<double>())) {
        return precision::float64;
    }
    throw py::type_error(indexed(what, index) +
                         " is neither native float32 nor float64");
}

// The data of a writeable, C-contiguous array of this precision and size.
inline void* writable_data(py::handle object, precision expected, std::size_t size,
                           const char* what, std::size_t index) {
    py::array array = as_array(object, what, index);
    if (precision_of(array, what, index) != expected ||
        static_cast<std::size_t>(array.size()) != size ||
        !(array.flags() & py::array::c_style) || !array.writeable()) {
        throw py::value_error(indexed(what, index) +
                              " is not a writeable C-contiguous array like its "
                              "parameter");
    }
    return array.mutable_data();
}

}  // namespace fastoptim::bindings
