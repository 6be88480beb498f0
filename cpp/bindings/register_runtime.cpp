// Binds what concerns the machine: threads, instruction sets, the memory probe.
#include <fastoptim/dispatch.hpp>
#include <fastoptim/engine.hpp>
#include <fastoptim/thread_pool.hpp>

#include <Eigen/Core>

#include <memory>
#include <string>

#include "register.hpp"

namespace fastoptim::bindings {
namespace {

std::string compiler() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

}  // namespace

void register_runtime(py::module_& m) {
    m.def("get_num_threads", [] { return shared_pool()->size(); });
    m.def(
        "set_num_threads",
        [](std::size_t threads) {
            py::gil_scoped_release release;
            set_num_threads(threads);
        },
        py::arg("threads"));
    m.def("available_cores", &available_cores);
    m.def("isa", [] { return std::string(active_kernels().isa); });
    m.def("supported_isas", [] {
        py::list names;
        for (const kernel_table* table : supported_kernels()) {
            names.append(table->isa);
        }
        return names;
    });
    m.def("select_isa", &select_kernels, py::arg("isa"));
    m.def("prefetching", &prefetching);
    m.def("set_prefetching", &set_prefetching, py::arg("on"));
    m.def("parallel_threshold", &parallel_threshold);
    m.def("set_parallel_threshold", &set_parallel_threshold, py::arg("nanoseconds"));
    m.def("chunk_elements", &chunk_elements);
    m.def("set_chunk_elements", &set_chunk_elements, py::arg("elements"));
    m.def(
        "memory_bandwidth",
        [](std::size_t bytes, int repeats) {
            py::gil_scoped_release release;
            return memory_bandwidth(bytes, repeats);
        },
        py::arg("bytes"), py::arg("repeats"));
    py::class_<bandwidth_probe>(m, "BandwidthProbe")
        .def(py::init([](std::size_t bytes) {
                 // Allocating and touching the arrays takes a while: let other Python
                 // threads run meanwhile.
                 py::gil_scoped_release release;
                 return std::make_unique<bandwidth_probe>(bytes);
             }),
             py::arg("bytes"))
        .def("run", &bandwidth_probe::run, py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("bytes", &bandwidth_probe::bytes);
    m.def(
        "divider_rate",
        [](const std::string& dtype, int repeats) {
            if (dtype != "float32" && dtype != "float64") {
                throw py::value_error("dtype must be float32 or float64, got " + dtype);
            }
            const precision type =
                dtype == "float32" ? precision::float32 : precision::float64;
            py::gil_scoped_release release;
            return divider_rate(type, repeats);
        },
        py::arg("dtype"), py::arg("repeats"));
    m.attr("compiler") = compiler();
    m.attr("eigen_version") = std::to_string(EIGEN_WORLD_VERSION) + "." +
                              std::to_string(EIGEN_MAJOR_VERSION) + "." +
                              std::to_string(EIGEN_MINOR_VERSION);
}

}  // namespace fastoptim::bindings
