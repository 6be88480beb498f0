// Learning-rate schedules as closed forms of the step count t (0 for the first step).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace fastoptim {

class schedule {
public:
    virtual ~schedule() = default;

    virtual double at(std::int64_t step) const = 0;

    void evaluate(const std::int64_t* steps, double* out, std::size_t size) const {
        for (std::size_t i = 0; i < size; ++i) {
            out[i] = at(steps[i]);
        }
    }
};

// lr * gamma^floor(t / step_size), the closed form of torch's StepLR.
class step_decay final : public schedule {
public:
    step_decay(double lr, std::int64_t step_size, double gamma)
        : lr_(lr), step_size_(step_size), gamma_(gamma) {}

    double at(std::int64_t step) const override {
        return lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
    }

private:
    double lr_;
    std::int64_t step_size_;
    double gamma_;
};

// lr_min + (lr_max - lr_min) * (1 + cos(pi * t / T_max)) / 2, torch's closed form of
// CosineAnnealingLR, in its order of operations; past T_max it keeps following it.
class cosine_annealing final : public schedule {
public:
    cosine_annealing(double lr_max, std::int64_t t_max, double lr_min)
        : lr_max_(lr_max), t_max_(t_max), lr_min_(lr_min) {}

    double at(std::int64_t step) const override {
        const double pi = 3.141592653589793;
        const double phase =
            pi * static_cast<double>(step) / static_cast<double>(t_max_);
        return lr_min_ + (lr_max_ - lr_min_) * (1.0 + std::cos(phase)) / 2.0;
    }

private:
    double lr_max_;
    std::int64_t t_max_;
    double lr_min_;
};

}  // namespace fastoptim
