// Binds the schedules: a call on one step gives a float, a call on an int64 array gives
// a float64 array computed in one pass without the GIL.
#include <pybind11/stl.h>

#include "arrays.hpp"
#include "register.hpp"

#include <fastoptim/schedules.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
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
    // Shared ownership: a composed schedule keeps its parts alive after Python has
    // dropped them.
    py::class_<schedule, std::shared_ptr<schedule>>(m, "Schedule")
        .def("__call__", &schedule::at, py::arg("step"))
        .def("evaluate", &evaluate, py::arg("steps"));
    py::class_<step_decay, schedule, std::shared_ptr<step_decay>>(m, "StepDecay")
        .def(py::init<double, std::int64_t, double>(), py::arg("lr"),
             py::arg("step_size"), py::arg("gamma"));
    py::class_<cosine_annealing, schedule, std::shared_ptr<cosine_annealing>>(
        m, "CosineAnnealing")
        .def(py::init<double, std::int64_t, double>(), py::arg("lr_max"),
             py::arg("T_max"), py::arg("lr_min"));
    py::class_<constant, schedule, std::shared_ptr<constant>>(m, "Constant")
        .def(py::init<double, double, std::int64_t>(), py::arg("lr"), py::arg("factor"),
             py::arg("total_iters"));
    py::class_<multi_step, schedule, std::shared_ptr<multi_step>>(m, "MultiStep")
        .def(py::init<double, std::vector<std::int64_t>, double>(), py::arg("lr"),
             py::arg("milestones"), py::arg("gamma"));
    py::class_<exponential, schedule, std::shared_ptr<exponential>>(m, "Exponential")
        .def(py::init<double, double>(), py::arg("lr"), py::arg("gamma"));
    py::class_<linear, schedule, std::shared_ptr<linear>>(m, "Linear")
        .def(py::init<double, double, double, std::int64_t>(), py::arg("lr"),
             py::arg("start_factor"), py::arg("end_factor"), py::arg("total_iters"));
    py::class_<polynomial, schedule, std::shared_ptr<polynomial>>(m, "Polynomial")
        .def(py::init<double, std::int64_t, double>(), py::arg("lr"),
             py::arg("total_iters"), py::arg("power"));
    py::class_<cosine_warm_restarts, schedule, std::shared_ptr<cosine_warm_restarts>>(
        m, "CosineWarmRestarts")
        .def(py::init<double, std::int64_t, std::int64_t, double>(), py::arg("lr_max"),
             py::arg("T_0"), py::arg("T_mult"), py::arg("lr_min"));
    py::class_<one_cycle, schedule, std::shared_ptr<one_cycle>>(m, "OneCycle")
        .def(py::init([](double max_lr, std::int64_t total_steps, double pct_start,
                         const std::string& anneal_strategy, double div_factor,
                         double final_div_factor, bool three_phase) {
                 if (anneal_strategy != "cos" && anneal_strategy != "linear") {
                     throw py::value_error("anneal_strategy must be 'cos' or 'linear'");
                 }
                 return std::make_shared<one_cycle>(
                     max_lr, total_steps, pct_start, anneal_strategy == "cos",
                     div_factor, final_div_factor, three_phase);
             }),
             py::arg("max_lr"), py::arg("total_steps"), py::arg("pct_start"),
             py::arg("anneal_strategy"), py::arg("div_factor"),
             py::arg("final_div_factor"), py::arg("three_phase"));
    py::class_<sequential, schedule, std::shared_ptr<sequential>>(m, "Sequential")
        .def(py::init([](const std::vector<std::shared_ptr<schedule>>& parts,
                         std::vector<std::int64_t> milestones) {
                 return std::make_shared<sequential>(
                     std::vector<std::shared_ptr<const schedule>>(parts.begin(),
                                                                  parts.end()),
                     std::move(milestones));
             }),
             py::arg("schedules"), py::arg("milestones"));
    py::class_<warmup, schedule, std::shared_ptr<warmup>>(m, "Warmup")
        .def(py::init<std::shared_ptr<schedule>, std::int64_t, double>(),
             py::arg("schedule"), py::arg("warmup_steps"), py::arg("start_factor"));
}

}  // namespace fastoptim::bindings
