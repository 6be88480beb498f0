// Turning Python lists of NumPy arrays into raw pointers without ever copying.
//
// The Python layer validates every array and reports errors with the user's indices;
// these checks only make sure a misuse of the private module cannot touch memory it
// does not own, so they stay O(1) per array.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <string>

namespace fastoptim::bindings {

namespace py = pybind11;

enum class precision { float32, float64 };

inline py::array as_array(py::handle object, const char* what, std::size_t index) {
    // py::array's own caster would build a converted copy; an in-place update of a
    // copy is a lost update, so anything but an ndarray is refused.
    if (!py::isinstance<py::array>(object)) {
        throw py::type_error(std::string(what) + "[" + std::to_string(index) +
                             "] is not a numpy.ndarray");
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
    throw py::type_error(std::string(what) + "[" + std::to_string(index) +
                         "] is neither native float32 nor float64");
}

// A C-contiguous array of the given precision and size, for reading.
template <class T>
const T* readable_data(py::handle object, precision expected, std::size_t size,
                       const char* what, std::size_t index) {
    const py::array array = as_array(object, what, index);
    if (precision_of(array, what, index) != expected ||
        static_cast<std::size_t>(array.size()) != size ||
        !(array.flags() & py::array::c_style)) {
        throw py::value_error(std::string(what) + "[" + std::to_string(index) +
                              "] does not match its parameter");
    }
    return static_cast<const T*>(array.data());
}

// The same, for writing in place.
template <class T>
T* writable_data(py::handle object, precision expected, std::size_t size,
                 const char* what, std::size_t index) {
    const py::array array = as_array(object, what, index);
    if (!array.writeable()) {
        throw py::value_error(std::string(what) + "[" + std::to_string(index) +
                              "] is read-only");
    }
    return const_cast<T*>(readable_data<T>(object, expected, size, what, index));
}

}  // namespace fastoptim::bindings
