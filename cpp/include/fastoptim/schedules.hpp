// Learning-rate schedules as closed forms of the step count t (0 for the first step).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
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

// Cosine annealing that restarts at lr_max after each period; the periods are T_0,
// T_0 * T_mult, T_0 * T_mult^2, ... (SGDR). The position in the period is found in
// integers, as torch's CosineAnnealingWarmRestarts finds it when stepped one step
// at a time; its step(epoch) form takes a logarithm and can misplace a restart.
class cosine_warm_restarts final : public schedule {
public:
    cosine_warm_restarts(double lr_max, std::int64_t t_0, std::int64_t t_mult,
                         double lr_min)
        : lr_max_(lr_max), t_0_(t_0), t_mult_(t_mult), lr_min_(lr_min) {}

    double at(std::int64_t step) const override {
        std::int64_t t_cur = step;
        std::int64_t period = t_0_;
        if (t_mult_ == 1) {
            t_cur = step % t_0_;
        } else {
            while (t_cur >= period) {
                t_cur -= period;
                // A longer next period would hold every step an int64 can count.
                if (period > std::numeric_limits<std::int64_t>::max() / t_mult_) {
                    return value(t_cur, static_cast<double>(period) *
                                            static_cast<double>(t_mult_));
                }
                period *= t_mult_;
            }
        }
        return value(t_cur, static_cast<double>(period));
    }

private:
    double value(std::int64_t t_cur, double period) const {
        const double pi = 3.141592653589793;
        const double phase = pi * static_cast<double>(t_cur) / period;
        return lr_min_ + (lr_max_ - lr_min_) * (1.0 + std::cos(phase)) / 2.0;
    }

    double lr_max_;
    std::int64_t t_0_;
    std::int64_t t_mult_;
    double lr_min_;
};

// torch's OneCycleLR without its momentum cycle: from max_lr / div_factor up to
// max_lr over the first pct_start of total_steps, then down to
// max_lr / div_factor / final_div_factor; with three_phase, back to the start first.
// Each phase interpolates by cosine or linearly, in torch's order of operations.
class one_cycle final : public schedule {
public:
    one_cycle(double max_lr, std::int64_t total_steps, double pct_start, bool cosine,
              double div_factor, double final_div_factor, bool three_phase)
        : total_steps_(total_steps), cosine_(cosine) {
        const double initial_lr = max_lr / div_factor;
        const double min_lr = initial_lr / final_div_factor;
        const auto total = static_cast<double>(total_steps);
        const double last = static_cast<double>(total_steps - 1);
        if (three_phase) {
            phases_ = {{pct_start * total - 1.0, initial_lr, max_lr},
                       {2.0 * pct_start * total - 2.0, max_lr, initial_lr},
                       {last, initial_lr, min_lr}};
        } else {
            phases_ = {{pct_start * total - 1.0, initial_lr, max_lr},
                       {last, max_lr, min_lr}};
        }
    }

    double at(std::int64_t step) const override {
        if (step > total_steps_) {
            throw std::domain_error(
                "OneCycle has a learning rate for steps 0 to total_steps=" +
                std::to_string(total_steps_) + ", not for step " +
                std::to_string(step));
        }
        const auto t = static_cast<double>(step);
        double start_step = 0.0;
        for (std::size_t i = 0; i < phases_.size(); ++i) {
            const phase& p = phases_[i];
            if (t <= p.end_step || i + 1 == phases_.size()) {
                const double pct = (t - start_step) / (p.end_step - start_step);
                return cosine_ ? anneal_cosine(p.start_lr, p.end_lr, pct)
                               : anneal_linear(p.start_lr, p.end_lr, pct);
            }
            start_step = p.end_step;
        }
        return 0.0;  // not reached: the last phase takes every later step
    }

private:
    struct phase {
        double end_step;
        double start_lr;
        double end_lr;
    };

    static double anneal_cosine(double start, double end, double pct) {
        const double pi = 3.141592653589793;
        const double cos_out = std::cos(pi * pct) + 1.0;
        return end + (start - end) / 2.0 * cos_out;
    }

    static double anneal_linear(double start, double end, double pct) {
        return (end - start) * pct + start;
    }

    std::int64_t total_steps_;
    bool cosine_;
    std::vector<phase> phases_;
};

// Schedule i from milestone i - 1 on, counting its steps from that milestone:
// torch's SequentialLR, optax's join_schedules.
class sequential final : public schedule {
public:
    sequential(std::vector<std::shared_ptr<const schedule>> schedules,
               std::vector<std::int64_t> milestones)
        : schedules_(std::move(schedules)), milestones_(std::move(milestones)) {
        if (schedules_.size() != milestones_.size() + 1) {
            throw std::invalid_argument(
                "sequential needs one milestone fewer than "
                "schedules");
        }
    }

    double at(std::int64_t step) const override {
        const auto index = static_cast<std::size_t>(
            std::upper_bound(milestones_.begin(), milestones_.end(), step) -
            milestones_.begin());
        const std::int64_t start = index == 0 ? 0 : milestones_[index - 1];
        return schedules_[index]->at(step - start);
    }

private:
    std::vector<std::shared_ptr<const schedule>> schedules_;
    std::vector<std::int64_t> milestones_;
};

// A linear ramp from start_factor * s(0) to s(0) over warmup_steps, then s counted
// from the end of the ramp; the ramp is torch's LinearLR closed form, in its order.
class warmup final : public schedule {
public:
    warmup(std::shared_ptr<const schedule> after, std::int64_t warmup_steps,
           double start_factor)
        : after_(std::move(after)),
          warmup_steps_(warmup_steps),
          start_factor_(start_factor) {}

    double at(std::int64_t step) const override {
        if (step >= warmup_steps_) {
            return after_->at(step - warmup_steps_);
        }
        return after_->at(0) *
               (start_factor_ + (1.0 - start_factor_) * static_cast<double>(step) /
                                    static_cast<double>(warmup_steps_));
    }

private:
    std::shared_ptr<const schedule> after_;
    std::int64_t warmup_steps_;
    double start_factor_;
};

}  // namespace fastoptim
