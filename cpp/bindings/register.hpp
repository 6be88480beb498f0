// The parts of fastoptim._core, each registered by its own source file.
#pragma once

#include <pybind11/pybind11.h>

namespace fastoptim::bindings {

namespace py = pybind11;

void register_optimizers(py::module_& m);
void register_schedules(py::module_& m);
void register_runtime(py::module_& m);

}  // namespace fastoptim::bindings
