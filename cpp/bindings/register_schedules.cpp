// Binds the schedules: a call on one step gives a float, a call on an int64 array gives
// a float64 array computed in one pass without the GIL.
#include <pybind11/stl.h>

#include "arrays.hpp"
#include "register.hpp"

#include <fastoptim/schedules.hpp>

#include <cstdint>
#include <vector>

namespace fastoptim::bindings {
namespace {

py::array_t<double> evaluate(const schedule& s, const py::handle& steps_object) {
    const py::array steps = as_array(steps_object, "steps", 0);
    if (!steps.dtype().equal(py::dtype::of<std::int64_t>()) ||
        !(steps.flags() & py::array::c_style)) {
        throw py::type_error("steps must be a C-contiguous int64 array");
    }
    py::array_t<double> out(
        std::vector<py::ssize_t>(steps.shape(), steps.shape() + steps.ndim()));
    const auto* in = static_cast<const std::int64_t*>(steps.data());
    double* values = out.mutable_data();
    const auto size = static_cast<std::size_t>(steps.size());
    {
        py::gil_scoped_release release;
        s.evaluate(in, values, size);
    }
    return out;
}

}  // namespace

void register_schedules(py::module_& m) {
    py::class_<schedule>(m, "Schedule")
        .def("__call__", &schedule::at, py::arg("step"))
        .def("evaluate", &evaluate, py::arg("steps"));
    py::class_<step_decay, schedule>(m, "StepDecay")
        .def(py::init<double, std::int64_t, double>(), py::arg("lr"),
             py::arg("step_size"), py::arg("gamma"));
    py::class_<cosine_annealing, schedule>(m, "CosineAnnealing")
        .def(py::init<double, std::int64_t, double>(), py::arg("lr_max"),
             py::arg("T_max"), py::arg("lr_min"));
    py::class_<constant, schedule>(m, "Constant")
        .def(py::init<double, double, std::int64_t>(), py::arg("lr"), py::arg("factor"),
             py::arg("total_iters"));
    py::class_<multi_step, schedule>(m, "MultiStep")
        .def(py::init<double, std::vector<std::int64_t>, double>(), py::arg("lr"),
             py::arg("milestones"), py::arg("gamma"));
    py::class_<exponential, schedule>(m, "Exponential")
        .def(py::init<double, double>(), py::arg("lr"), py::arg("gamma"));
    py::class_<linear, schedule>(m, "Linear")
        .def(py::init<double, double, double, std::int64_t>(), py::arg("lr"),
             py::arg("start_factor"), py::arg("end_factor"), py::arg("total_iters"));
    py::class_<polynomial, schedule>(m, "Polynomial")
        .def(py::init<double, std::int64_t, double>(), py::arg("lr"),
             py::arg("total_iters"), py::arg("power"));
}

}  // namespace fastoptim::bindings
