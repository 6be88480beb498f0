#include "register.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastoptim's compiled core; the public API is the fastoptim package.";
    m.attr("__version__") = FASTOPTIM_VERSION;
    fastoptim::bindings::register_optimizers(m);
    fastoptim::bindings::register_schedules(m);
    fastoptim::bindings::register_runtime(m);
}
