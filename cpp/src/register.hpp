// The parts of fastoptim._core, each registered by its own source file.
#pragma once

#include <pybind11/pybind11.h>

namespace fastoptim::bindings {

void register_optimizers(pybind11::module_& m);
void register_schedules(pybind11::module_& m);

}  // namespace fastoptim::bindings
