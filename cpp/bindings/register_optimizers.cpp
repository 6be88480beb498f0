// Binds the engine: an optimizer's arrays are handed over once, when it is built, and
// each step is one call that checks the gradients, evaluates the schedules and runs
// the update without the GIL.
#include <fastoptim/engine.hpp>
#include <fastoptim/schedules.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "register.hpp"

namespace fastoptim::bindings {
namespace {

using py::detail::array_proxy;
using py::detail::npy_api;

std::string dtype_str(PyObject* array) {
    return py::str(py::handle(array).attr("dtype").attr("str"));
}

std::string shape_str(PyObject* array) {
    return py::repr(py::handle(array).attr("shape"));
}

std::string repr_float(double value) { return py::repr(py::float_(value)); }

std::string type_name(PyObject* object) {
    return py::str(
        py::handle(reinterpret_cast<PyObject*>(Py_TYPE(object))).attr("__name__"));
}

class py_engine {
public:
    py_engine(const std::string& kind, const py::sequence& params,
              const py::sequence& buffers, const py::sequence& groups,
              std::size_t group_count, const py::handle& counts)
        : params_(py::list(params)), keep_alive_(py::make_tuple(buffers, counts)) {
        const std::size_t size = params_.size();
        std::int64_t* count_data = int64_data(counts, size);
        std::vector<parameter_slot> slots;
        slots.reserve(size);
        for (std::size_t i = 0; i < size; ++i) {
            const py::array param = as_array(params_[i], "params", i);
            const precision type = precision_of(param, "params", i);
            const auto elements = static_cast<std::size_t>(param.size());
            parameter_slot slot{type,
                                writable_data(param, type, elements, "params", i),
                                {nullptr, nullptr, nullptr},
                                elements,
                                py::cast<std::size_t>(groups[i])};
            for (std::size_t k = 0; k < buffers.size() && k < slot.state.size(); ++k) {
                const py::sequence named = buffers[k];
                if (!named[i].is_none()) {
                    slot.state[k] = writable_data(named[i], type, elements, "state", i);
                }
            }
            if (slot.group >= group_count) {
                throw py::value_error("group number out of range");
            }
            param_data_.push_back(slot.param);
            param_sizes_.push_back(elements);
            const std::size_t bytes = elements * (type == precision::float32 ? 4 : 8);
            add_span(slot.param, bytes, i, false);
            for (void* buffer : slot.state) {
                add_span(buffer, bytes, i, true);
            }
            slots.push_back(slot);
        }
        std::sort(spans_.begin(), spans_.end(),
                  [](const span& a, const span& b) { return a.begin < b.begin; });
        engine_ = std::make_unique<engine>(parse_algorithm(kind), std::move(slots),
                                           group_count, count_data);
        base_lrs_.assign(group_count, 0.0);
        schedules_.assign(group_count, nullptr);
        schedule_objects_ = py::list(group_count);
        lrs_.assign(group_count, 0.0);
    }

    void set_group(std::size_t group, const py::handle& options,
                   const py::object& schedule_object) {
        if (group >= base_lrs_.size()) {
            throw py::index_error("no such group");
        }
        group_settings settings;
        if (py::isinstance<sgd_options>(options)) {
            settings.sgd = py::cast<sgd_options>(options);
            base_lrs_[group] = settings.sgd.lr;
        } else if (py::isinstance<momentum_options>(options)) {
            settings.momentum = py::cast<momentum_options>(options);
            base_lrs_[group] = settings.momentum.lr;
        } else {
            settings.adam = py::cast<adam_options>(options);
            base_lrs_[group] = settings.adam.lr;
        }
        schedules_[group] = schedule_object.is_none()
                                ? nullptr
                                : py::cast<const schedule*>(schedule_object);
        schedule_objects_[group] = schedule_object;
        engine_->set_group(group, settings);
    }

    bool step(const py::handle& grads, std::int64_t step_count,
              const py::object& lr_overrides, bool skip_nonfinite) {
        std::unique_lock<std::mutex> lock(engine_->mutex(), std::try_to_lock);
        if (!lock.owns_lock()) {
            // Another thread is stepping this optimizer, and needs the GIL to check
            // its input: wait for it without holding the GIL. No thread ever waits
            // for the mutex while holding the GIL.
            py::gil_scoped_release release;
            lock.lock();
        }
        check_parameters();
        collect_gradients(grads);
        evaluate_lrs(step_count, lr_overrides);

        py::gil_scoped_release release;
        return engine_->step(lrs_, skip_nonfinite);
    }

private:
    static algorithm parse_algorithm(const std::string& kind) {
        if (kind == "sgd") {
            return algorithm::sgd;
        }
        if (kind == "momentum") {
            return algorithm::momentum;
        }
        if (kind == "adam") {
            return algorithm::adam;
        }
        throw py::value_error("unknown algorithm " + kind);
    }

    static std::int64_t* int64_data(const py::handle& object, std::size_t size) {
        py::array array = as_array(object, "counts", 0);
        if (!array.dtype().equal(py::dtype::of<std::int64_t>()) ||
            static_cast<std::size_t>(array.size()) != size ||
            !(array.flags() & py::array::c_style) || !array.writeable()) {
            throw py::value_error(
                "counts must be a writeable int64 array, one per "
                "parameter");
        }
        return static_cast<std::int64_t*>(array.mutable_data());
    }

    // A parameter reallocated or frozen after construction would be written through
    // a stale pointer.
    void check_parameters() const {
        const auto& api = npy_api::get();
        for (std::size_t i = 0; i < param_data_.size(); ++i) {
            PyObject* param = PySequence_Fast_GET_ITEM(params_.ptr(), i);
            const auto* proxy = array_proxy(param);
            std::size_t elements = 1;
            for (int d = 0; d < proxy->nd; ++d) {
                elements *= static_cast<std::size_t>(proxy->dimensions[d]);
            }
            const bool intact = proxy->data == param_data_[i] &&
                                elements == param_sizes_[i] &&
                                (proxy->flags & api.NPY_ARRAY_WRITEABLE_) &&
                                (proxy->flags & api.NPY_ARRAY_C_CONTIGUOUS_);
            if (!intact) {
                throw py::value_error(indexed("params", i) +
                                      " was resized, moved or made read-only after "
                                      "the optimizer was built");
            }
        }
    }

    void collect_gradients(const py::handle& grads) {
        if (!PyList_Check(grads.ptr()) && !PyTuple_Check(grads.ptr())) {
            throw py::type_error("grads must be a list or tuple of arrays, got " +
                                 type_name(grads.ptr()));
        }
        const std::size_t size = param_data_.size();
        const auto given =
            static_cast<std::size_t>(PySequence_Fast_GET_SIZE(grads.ptr()));
        if (given != size) {
            throw py::value_error("expected " + std::to_string(size) +
                                  " gradients, one per parameter, got " +
                                  std::to_string(given));
        }
        const auto& api = npy_api::get();
        std::vector<const void*>& out = engine_->gradients();
        for (std::size_t i = 0; i < size; ++i) {
            PyObject* grad = PySequence_Fast_GET_ITEM(grads.ptr(), i);
            if (grad == Py_None) {
                out[i] = nullptr;
                continue;
            }
            if (!api.PyArray_Check_(grad)) {
                throw py::type_error(not_an_array(grad, i));
            }
            PyObject* param = PySequence_Fast_GET_ITEM(params_.ptr(), i);
            const auto* g = array_proxy(grad);
            const auto* p = array_proxy(param);
            if (g->descr != p->descr && !api.PyArray_EquivTypes_(g->descr, p->descr)) {
                throw py::type_error(indexed("grads", i) + " has dtype " +
                                     dtype_str(grad) + " but params[" +
                                     std::to_string(i) + "] has " + dtype_str(param) +
                                     "; gradients are never cast");
            }
            if (g->nd != p->nd ||
                !std::equal(g->dimensions, g->dimensions + g->nd, p->dimensions)) {
                throw py::value_error(indexed("grads", i) + " has shape " +
                                      shape_str(grad) + " but params[" +
                                      std::to_string(i) + "] has " + shape_str(param));
            }
            if (!(g->flags & api.NPY_ARRAY_C_CONTIGUOUS_)) {
                throw py::value_error(indexed("grads", i) + " is not C-contiguous");
            }
            if (!(g->flags & api.NPY_ARRAY_ALIGNED_)) {
                throw py::value_error(indexed("grads", i) +
                                      " is not aligned to its dtype");
            }
            check_not_aliased(i, g->data, param_bytes(i));
            out[i] = g->data;
        }
    }

    // The memory of a parameter or of its state: a gradient in it would change as
    // the step writes.
    struct span {
        std::uintptr_t begin;
        std::uintptr_t end;
        std::size_t param;
        bool state;
    };

    void add_span(const void* data, std::size_t bytes, std::size_t param, bool state) {
        if (data && bytes) {
            const auto begin = reinterpret_cast<std::uintptr_t>(data);
            spans_.push_back({begin, begin + bytes, param, state});
        }
    }

    std::size_t param_bytes(std::size_t i) const {
        return param_sizes_[i] * engine_->slot(i).type_size();
    }

    // The spans never overlap one another, so the only one that can overlap the
    // gradient is the last that starts before the gradient ends.
    void check_not_aliased(std::size_t i, const void* data, std::size_t bytes) const {
        if (bytes == 0) {
            return;
        }
        const auto begin = reinterpret_cast<std::uintptr_t>(data);
        const auto end = begin + bytes;
        auto after = std::upper_bound(
            spans_.begin(), spans_.end(), end,
            [](std::uintptr_t value, const span& s) { return value <= s.begin; });
        if (after == spans_.begin()) {
            return;
        }
        const span& candidate = *(after - 1);
        if (candidate.end > begin) {
            throw py::value_error(indexed("grads", i) + " shares memory with " +
                                  (candidate.state ? "the state of " : "") +
                                  indexed("params", candidate.param));
        }
    }

    static std::string not_an_array(PyObject* grad, std::size_t i) {
        const bool scalar =
            py::isinstance(grad, py::module_::import("numpy").attr("generic"));
        return indexed("grads", i) + " is a " + type_name(grad) +
               ", not a numpy.ndarray" + (scalar ? "; wrap it with numpy.asarray" : "");
    }

    void evaluate_lrs(std::int64_t step_count, const py::object& lr_overrides) {
        for (std::size_t group = 0; group < lrs_.size(); ++group) {
            double lr = base_lrs_[group];
            if (!lr_overrides.is_none() && !py::list(lr_overrides)[group].is_none()) {
                lr = py::cast<double>(py::list(lr_overrides)[group]);
            } else if (schedules_[group]) {
                lr = schedules_[group]->at(step_count);
                const std::string name =
                    "lr at step " + std::to_string(step_count) + " (from the schedule)";
                if (!std::isfinite(lr)) {
                    throw py::value_error(name + " must be finite, got " +
                                          repr_float(lr));
                }
                if (lr < 0.0) {
                    throw py::value_error(name + " must be >= 0, got " +
                                          repr_float(lr));
                }
            }
            lrs_[group] = lr;
        }
    }

    std::unique_ptr<engine> engine_;
    py::list params_;
    py::tuple keep_alive_;
    std::vector<void*> param_data_;
    std::vector<std::size_t> param_sizes_;
    std::vector<span> spans_;  // sorted by start
    std::vector<double> base_lrs_;
    std::vector<const schedule*> schedules_;
    py::list schedule_objects_;  // keeps the schedules alive
    std::vector<double> lrs_;
};

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

    py::class_<py_engine>(m, "Engine")
        .def(py::init<const std::string&, const py::sequence&, const py::sequence&,
                      const py::sequence&, std::size_t, const py::handle&>(),
             py::arg("algorithm"), py::arg("params"), py::arg("buffers"),
             py::arg("groups"), py::arg("group_count"), py::arg("counts"),
             "Hold an optimizer's arrays: params, per state buffer a list with one "
             "array (or None) per parameter, each parameter's group number, and an "
             "int64 count per parameter.")
        .def("set_group", &py_engine::set_group, py::arg("group"), py::arg("options"),
             py::arg("schedule"))
        .def("step", &py_engine::step, py::arg("grads"), py::arg("step"),
             py::arg("lr_overrides"), py::arg("skip_nonfinite"),
             "Check the gradients and update every parameter that has one; with "
             "skip_nonfinite, change nothing and return False if a gradient holds "
             "an infinite or NaN element.");
}

}  // namespace fastoptim::bindings
