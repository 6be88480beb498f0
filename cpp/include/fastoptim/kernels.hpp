// Update kernels: one function per algorithm, for one parameter array and its state,
// over raw pointers. Every scalar is rounded to the parameter's precision before it
// meets an array element, and the operations come in torch.optim's order, so float32
// stays float32 and results match the NumPy reference bit for bit.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace fastoptim {

struct sgd_options {
    double lr = 0.0;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
    bool maximize = false;
};

struct momentum_options {
    double lr = 0.0;
    double gamma = 0.0;
    bool nesterov = false;
};

struct adam_options {
    double lr = 0.0;
    double beta1 = 0.0;
    double beta2 = 0.0;
    double eps = 0.0;
    double weight_decay = 0.0;
    bool amsgrad = false;
    bool maximize = false;
    bool decoupled_weight_decay = false;
};

namespace detail {

template <class T>
using array_map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

template <class T>
using const_array_map = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Each kernel runs several Eigen expressions over the same elements. Running them
// block by block keeps a block of every operand in cache between expressions, so each
// byte of the arrays crosses the memory bus once per step.
inline constexpr std::ptrdiff_t block_size = 1024;

template <class Body>
void for_each_block(std::size_t size, Body&& body) {
    const auto total = static_cast<std::ptrdiff_t>(size);
    for (std::ptrdiff_t begin = 0; begin < total; begin += block_size) {
        body(begin, std::min(block_size, total - begin));
    }
}

// The gradient as the update sees it: negated to maximise, plus weight_decay * param
// when the decay is coupled (added to the gradient, as torch.optim does).
template <class T>
void effective_gradient(array_map<T> out, const_array_map<T> grad,
                        const_array_map<T> param, bool maximize, double weight_decay) {
    if (maximize) {
        out = -grad;
    } else {
        out = grad;
    }
    if (weight_decay != 0.0) {
        out = out + static_cast<T>(weight_decay) * param;
    }
}

}  // namespace detail

template <class T>
void sgd_update(T* param_data, const T* grad_data, T* momentum_buffer_data,
                bool first_momentum_step, std::size_t size, const sgd_options& o) {
    using detail::array_map;
    using detail::const_array_map;
    const auto lr = static_cast<T>(o.lr);
    const auto momentum = static_cast<T>(o.momentum);
    const auto damping = static_cast<T>(1.0 - o.dampening);

    alignas(64) T scratch[detail::block_size];
    detail::for_each_block(size, [&](std::ptrdiff_t begin, std::ptrdiff_t count) {
        array_map<T> param(param_data + begin, count);
        array_map<T> grad(scratch, count);
        detail::effective_gradient<T>(
            grad, const_array_map<T>(grad_data + begin, count),
            const_array_map<T>(param_data + begin, count), o.maximize, o.weight_decay);
        if (o.momentum != 0.0) {
            array_map<T> buffer(momentum_buffer_data + begin, count);
            if (first_momentum_step) {
                buffer = grad;
            } else {
                buffer = buffer * momentum + damping * grad;
            }
            if (o.nesterov) {
                grad = grad + momentum * buffer;
            } else {
                grad = buffer;
            }
        }
        param = param + (-lr) * grad;
    });
}

template <class T>
void momentum_update(T* param_data, const T* grad_data, T* velocity_data,
                     std::size_t size, const momentum_options& o) {
    using detail::array_map;
    using detail::const_array_map;
    const auto lr = static_cast<T>(o.lr);
    const auto gamma = static_cast<T>(o.gamma);

    detail::for_each_block(size, [&](std::ptrdiff_t begin, std::ptrdiff_t count) {
        array_map<T> param(param_data + begin, count);
        const_array_map<T> grad(grad_data + begin, count);
        array_map<T> velocity(velocity_data + begin, count);
        velocity = gamma * velocity + lr * grad;
        if (o.nesterov) {
            param = param - (gamma * velocity + lr * grad);
        } else {
            param = param - velocity;
        }
    });
}

// step is the count of this update, starting at 1.
template <class T>
void adam_update(T* param_data, const T* grad_data, T* exp_avg_data, T* exp_avg_sq_data,
                 T* max_exp_avg_sq_data, std::int64_t step, std::size_t size,
                 const adam_options& o) {
    using detail::array_map;
    using detail::const_array_map;
    // Scalars in double, then rounded once, as torch.optim computes them.
    const double t = static_cast<double>(step);
    const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
    const auto neg_step_size = static_cast<T>(-(o.lr / bias_correction1));
    const auto bias_correction2_sqrt = static_cast<T>(std::pow(bias_correction2, 0.5));
    const auto eps = static_cast<T>(o.eps);
    const auto beta2 = static_cast<T>(o.beta2);
    const auto one_minus_beta2 = static_cast<T>(1.0 - o.beta2);
    const auto decay_factor = static_cast<T>(1.0 - o.lr * o.weight_decay);
    // torch's lerp takes one of two algebraically equal forms by the size of the
    // weight, and each rounds differently.
    const double weight = 1.0 - o.beta1;
    const bool small_weight = std::abs(weight) < 0.5;
    const auto lerp_weight = static_cast<T>(weight);
    const auto lerp_complement = T(1) - lerp_weight;

    alignas(64) T scratch[detail::block_size];
    detail::for_each_block(size, [&](std::ptrdiff_t begin, std::ptrdiff_t count) {
        array_map<T> param(param_data + begin, count);
        array_map<T> grad(scratch, count);
        array_map<T> exp_avg(exp_avg_data + begin, count);
        array_map<T> exp_avg_sq(exp_avg_sq_data + begin, count);
        const double coupled_decay = o.decoupled_weight_decay ? 0.0 : o.weight_decay;
        detail::effective_gradient<T>(
            grad, const_array_map<T>(grad_data + begin, count),
            const_array_map<T>(param_data + begin, count), o.maximize, coupled_decay);
        if (o.decoupled_weight_decay && o.weight_decay != 0.0) {
            param = param * decay_factor;
        }
        if (small_weight) {
            exp_avg = exp_avg + lerp_weight * (grad - exp_avg);
        } else {
            exp_avg = grad - (grad - exp_avg) * lerp_complement;
        }
        exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad;
        if (o.amsgrad) {
            array_map<T> max_exp_avg_sq(max_exp_avg_sq_data + begin, count);
            max_exp_avg_sq =
                max_exp_avg_sq.template max<Eigen::PropagateNaN>(exp_avg_sq);
            param = param + neg_step_size * exp_avg /
                                (max_exp_avg_sq.sqrt() / bias_correction2_sqrt + eps);
        } else {
            param = param + neg_step_size * exp_avg /
                                (exp_avg_sq.sqrt() / bias_correction2_sqrt + eps);
        }
    });
}

}  // namespace fastoptim
