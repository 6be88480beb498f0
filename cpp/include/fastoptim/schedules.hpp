// Learning-rate schedules as closed forms of the step count t (0 for the first step).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

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

// lr * (factor + [t >= total_iters] * (1 - factor)): torch's ConstantLR, in its
// closed form and order; with factor 1, optax's constant_schedule.
class constant final : public schedule {
public:
    constant(double lr, double factor, std::int64_t total_iters)
        : lr_(lr), factor_(factor), total_iters_(total_iters) {}

    double at(std::int64_t step) const override {
        const double reached = step >= total_iters_ ? 1.0 : 0.0;
        return lr_ * (factor_ + reached * (1.0 - factor_));
    }

private:
    double lr_;
    double factor_;
    std::int64_t total_iters_;
};

// lr * gamma^(number of milestones <= t): torch's MultiStepLR closed form. The
// milestones are sorted; one given twice counts twice, as in torch.
class multi_step final : public schedule {
public:
    multi_step(double lr, std::vector<std::int64_t> milestones, double gamma)
        : lr_(lr), milestones_(std::move(milestones)), gamma_(gamma) {
        std::sort(milestones_.begin(), milestones_.end());
    }

    double at(std::int64_t step) const override {
        const auto passed =
            std::upper_bound(milestones_.begin(), milestones_.end(), step) -
            milestones_.begin();
        return lr_ * std::pow(gamma_, static_cast<double>(passed));
    }

private:
    double lr_;
    std::vector<std::int64_t> milestones_;
    double gamma_;
};

// lr * gamma^t: torch's ExponentialLR closed form.
class exponential final : public schedule {
public:
    exponential(double lr, double gamma) : lr_(lr), gamma_(gamma) {}

    double at(std::int64_t step) const override {
        return lr_ * std::pow(gamma_, static_cast<double>(step));
    }

private:
    double lr_;
    double gamma_;
};

// lr * (start + (end - start) * min(t, T) / T): torch's LinearLR closed form.
class linear final : public schedule {
public:
    linear(double lr, double start_factor, double end_factor, std::int64_t total_iters)
        : lr_(lr),
          start_factor_(start_factor),
          end_factor_(end_factor),
          total_iters_(total_iters) {}

    double at(std::int64_t step) const override {
        const auto done = static_cast<double>(std::min(step, total_iters_));
        return lr_ * (start_factor_ + (end_factor_ - start_factor_) * done /
                                          static_cast<double>(total_iters_));
    }

private:
    double lr_;
    double start_factor_;
    double end_factor_;
    std::int64_t total_iters_;
};

// lr * (1 - min(t, T) / T)^power: torch's PolynomialLR closed form.
class polynomial final : public schedule {
public:
    polynomial(double lr, std::int64_t total_iters, double power)
        : lr_(lr), total_iters_(total_iters), power_(power) {}

    double at(std::int64_t step) const override {
        const auto done = static_cast<double>(std::min(step, total_iters_));
        return lr_ * std::pow(1.0 - done / static_cast<double>(total_iters_), power_);
    }

private:
    double lr_;
    std::int64_t total_iters_;
    double power_;
};

}  // namespace fastoptim
