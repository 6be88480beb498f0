// The hyperparameters of each algorithm, and the scalars one step of it uses.
//
// Hyperparameters are doubles. Before a step they are turned into the scalars the
// kernel multiplies with, computed in double and rounded once to the parameter's
// dtype, in torch.optim's order of operations.
#pragma once

#include <cmath>
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

template <class T>
struct sgd_step {
    T neg_lr;
    T momentum;
    T damping;  // 1 - dampening
    T weight_decay;
    bool has_momentum;
    bool nesterov;
    bool maximize;
    bool has_weight_decay;
};

template <class T>
struct momentum_step {
    T lr;
    T gamma;
    bool nesterov;
};

template <class T>
struct adam_step {
    T neg_step_size;  // -lr / (1 - beta1^t)
    T bias_correction2_sqrt;
    double bias_correction2_sqrt_reciprocal;  // of the rounded bias_correction2_sqrt
    T eps;
    T beta2;
    T one_minus_beta2;
    T weight_decay;  // added to the gradient unless decoupled
    T decay_factor;  // 1 - lr * weight_decay, when decoupled
    T lerp_weight;   // 1 - beta1
    T lerp_complement;
    bool small_weight;  // torch's lerp picks its form by |weight| < 0.5
    bool amsgrad;
    bool maximize;
    bool coupled_decay;
    bool decoupled_decay;
};

template <class T>
sgd_step<T> make_sgd_step(const sgd_options& o, double lr) {
    return {static_cast<T>(-lr),
            static_cast<T>(o.momentum),
            static_cast<T>(1.0 - o.dampening),
            static_cast<T>(o.weight_decay),
            o.momentum != 0.0,
            o.nesterov,
            o.maximize,
            o.weight_decay != 0.0};
}

template <class T>
momentum_step<T> make_momentum_step(const momentum_options& o, double lr) {
    return {static_cast<T>(lr), static_cast<T>(o.gamma), o.nesterov};
}

// step counts the updates of the parameter, this one included, from 1.
template <class T>
adam_step<T> make_adam_step(const adam_options& o, double lr, std::int64_t step) {
    const double t = static_cast<double>(step);
    const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
    const double weight = 1.0 - o.beta1;
    const auto lerp_weight = static_cast<T>(weight);
    const bool has_decay = o.weight_decay != 0.0;
    const auto bias_correction2_sqrt = static_cast<T>(std::pow(bias_correction2, 0.5));
    return {static_cast<T>(-(lr / bias_correction1)),
            bias_correction2_sqrt,
            1.0 / static_cast<double>(bias_correction2_sqrt),
            static_cast<T>(o.eps),
            static_cast<T>(o.beta2),
            static_cast<T>(1.0 - o.beta2),
            static_cast<T>(o.weight_decay),
            static_cast<T>(1.0 - lr * o.weight_decay),
            lerp_weight,
            static_cast<T>(T(1) - lerp_weight),
            std::abs(weight) < 0.5,
            o.amsgrad,
            o.maximize,
            has_decay && !o.decoupled_weight_decay,
            has_decay && o.decoupled_weight_decay};
}

}  // namespace fastoptim
