// Binds the update kernels. Each function updates the parameters of one group: it
// collects the pointers of every parameter that has a gradient, then releases the GIL
// and runs the kernel over them.
#include "arrays.hpp"
#include "register.hpp"

#include <fastoptim/kernels.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace fastoptim::bindings {
namespace {

template <class T>
struct update {
    T* param;
    const T* grad;
    std::array<T*, 3> state;  // the algorithm's buffers in its order; unused are null
    std::size_t size;
    std::int64_t counter;  // Adam: the step number; SGD: 1 on the first momentum step
};

struct updates {
    std::vector<update<float>> float32;
    std::vector<update<double>> float64;
};

template <class T>
update<T> collect_one(py::handle param_object, py::handle grad_object,
                      const std::vector<py::object>& states, precision kind,
                      std::size_t index, std::int64_t counter) {
    const auto size =
        static_cast<std::size_t>(as_array(param_object, "params", index).size());
    update<T> u{writable_data<T>(param_object, kind, size, "params", index),
                readable_data<T>(grad_object, kind, size, "grads", index),
                {nullptr, nullptr, nullptr},
                size,
                counter};
    for (std::size_t k = 0; k < states.size(); ++k) {
        if (!states[k].is_none()) {
            const py::sequence buffers = states[k];
            u.state[k] = writable_data<T>(buffers[index], kind, size, "state", index);
        }
    }
    return u;
}

// counter(i) gives the counter of parameter i; parameters whose gradient is None are
// left out, their state untouched.
template <class Counter>
updates collect(const py::sequence& params, const py::sequence& grads,
                const std::vector<py::object>& states, Counter&& counter) {
    if (grads.size() != params.size()) {
        throw py::value_error("expected one gradient per parameter");
    }
    for (const py::object& buffers : states) {
        if (!buffers.is_none() && py::len(buffers) != params.size()) {
            throw py::value_error("expected one state buffer per parameter");
        }
    }
    updates result;
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (grads[i].is_none()) {
            continue;
        }
        const precision kind =
            precision_of(as_array(params[i], "params", i), "params", i);
        if (kind == precision::float32) {
            result.float32.push_back(
                collect_one<float>(params[i], grads[i], states, kind, i, counter(i)));
        } else {
            result.float64.push_back(
                collect_one<double>(params[i], grads[i], states, kind, i, counter(i)));
        }
    }
    return result;
}

template <class Kernel>
void run(const updates& work, Kernel&& kernel) {
    // Every pointer was taken above and the arrays stay referenced by the caller, so
    // no Python object is touched from here on.
    py::gil_scoped_release release;
    for (const auto& u : work.float32) {
        kernel(u);
    }
    for (const auto& u : work.float64) {
        kernel(u);
    }
}

std::int64_t* step_counts(const py::handle& steps, std::size_t size) {
    py::array array = as_array(steps, "steps", 0);
    if (!array.dtype().equal(py::dtype::of<std::int64_t>()) ||
        static_cast<std::size_t>(array.size()) != size ||
        !(array.flags() & py::array::c_style) || !array.writeable()) {
        throw py::value_error(
            "steps must be a writeable int64 array, one per parameter");
    }
    return static_cast<std::int64_t*>(array.mutable_data());
}

void sgd(const py::sequence& params, const py::sequence& grads,
         const py::object& momentum_buffers, const py::object& first_steps,
         const sgd_options& options) {
    const py::list first = first_steps.is_none() ? py::list() : py::list(first_steps);
    const updates work =
        collect(params, grads, {momentum_buffers}, [&](std::size_t i) -> std::int64_t {
            return first.empty() ? 0 : py::cast<bool>(first[i]);
        });
    run(work, [&](const auto& u) {
        sgd_update(u.param, u.grad, u.state[0], u.counter != 0, u.size, options);
    });
}

void momentum(const py::sequence& params, const py::sequence& grads,
              const py::sequence& velocities, const momentum_options& options) {
    const updates work =
        collect(params, grads, {velocities}, [](std::size_t) { return 0; });
    run(work, [&](const auto& u) {
        momentum_update(u.param, u.grad, u.state[0], u.size, options);
    });
}

void adam(const py::sequence& params, const py::sequence& grads,
          const py::sequence& exp_avgs, const py::sequence& exp_avg_sqs,
          const py::object& max_exp_avg_sqs, const py::handle& steps,
          const adam_options& options) {
    std::int64_t* const counts = step_counts(steps, params.size());
    const updates work =
        collect(params, grads, {exp_avgs, exp_avg_sqs, max_exp_avg_sqs},
                [&](std::size_t i) { return counts[i] + 1; });
    for (std::size_t i = 0; i < params.size(); ++i) {
        counts[i] += grads[i].is_none() ? 0 : 1;
    }
    run(work, [&](const auto& u) {
        adam_update(u.param, u.grad, u.state[0], u.state[1], u.state[2], u.counter,
                    u.size, options);
    });
}

}  // namespace

void register_optimizers(py::module_& m) {
    py::class_<sgd_options>(m, "SGDOptions")
        .def(py::init([](double lr, double momentum, double dampening,
                         double weight_decay, bool nesterov, bool maximize) {
                 return sgd_options{lr,           momentum, dampening,
                                    weight_decay, nesterov, maximize};
             }),
             py::kw_only(), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
             py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"));
    py::class_<momentum_options>(m, "MomentumOptions")
        .def(py::init([](double lr, double gamma, bool nesterov) {
                 return momentum_options{lr, gamma, nesterov};
             }),
             py::kw_only(), py::arg("lr"), py::arg("gamma"), py::arg("nesterov"));
    py::class_<adam_options>(m, "AdamOptions")
        .def(py::init([](double lr, double beta1, double beta2, double eps,
                         double weight_decay, bool amsgrad, bool maximize,
                         bool decoupled_weight_decay) {
                 return adam_options{
                     lr,           beta1,   beta2,    eps,
                     weight_decay, amsgrad, maximize, decoupled_weight_decay};
             }),
             py::kw_only(), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
             py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"),
             py::arg("maximize"), py::arg("decoupled_weight_decay"));

    m.def("sgd", &sgd, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"),
          py::arg("first_steps"), py::arg("options"),
          "Update one group with SGD; first_steps marks buffers that start from the "
          "gradient.");
    m.def("momentum", &momentum, py::arg("params"), py::arg("grads"),
          py::arg("velocities"), py::arg("options"),
          "Update one group with momentum whose velocity carries the learning rate.");
    m.def("adam", &adam, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
          py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"), py::arg("steps"),
          py::arg("options"),
          "Update one group with Adam or AdamW and advance the step count of each "
          "parameter that has a gradient.");
}

}  // namespace fastoptim::bindings
