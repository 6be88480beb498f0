// Update kernels: one function per algorithm, over a range of one parameter array and
// its state, written once with Eigen and compiled once per instruction set.
//
// Every operation is an exactly rounded IEEE one (no fused multiply-add, an exact
// square root), so the result does not depend on the instruction set, the vector
// width or where a range starts: each build and each thread count gives the bits of
// the NumPy reference.
//
// Each instruction set's build includes this header inside its own namespace, named
// by FASTOPTIM_KERNEL_NAMESPACE, so the linker never mixes code compiled for
// different CPUs.
#pragma once

#include <fastoptim/options.hpp>

#include <Eigen/Core>

#include <cstddef>

#ifndef FASTOPTIM_KERNEL_NAMESPACE
#define FASTOPTIM_KERNEL_NAMESPACE portable
#endif

#if defined(__GNUC__)
// Inlines everything a kernel calls, Eigen included, so no out-of-line copy that the
// linker could share with another instruction set's build is ever called.
#define FASTOPTIM_FLATTEN __attribute__((flatten))
#else
#define FASTOPTIM_FLATTEN
#endif

namespace fastoptim::FASTOPTIM_KERNEL_NAMESPACE {

template <class T>
using array_map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

template <class T>
using const_array_map = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// A kernel runs several Eigen expressions over the same elements. Running them block
// by block keeps a block of every operand in the L1 cache between expressions, so
// each byte of the arrays crosses the memory bus once per step.
inline constexpr std::ptrdiff_t block_size = 1024;

// The exactly rounded square root, vectorised. Eigen's own sqrt expression stays
// scalar on AVX-512 unless its approximate fast math is on, which rounds wrongly.
template <class T>
struct exact_sqrt {
    T operator()(const T& x) const { return Eigen::numext::sqrt(x); }

    template <class Packet>
    Packet packetOp(const Packet& x) const {
        return Eigen::internal::psqrt(x);
    }
};

template <class Body>
inline void for_each_block(std::size_t size, Body&& body) {
    const auto total = static_cast<std::ptrdiff_t>(size);
    for (std::ptrdiff_t begin = 0; begin < total; begin += block_size) {
        const std::ptrdiff_t rest = total - begin;
        body(begin, rest < block_size ? rest : block_size);
    }
}

// The gradient as the update sees it: negated to maximise, plus weight_decay * param
// when the decay is added to the gradient, as torch.optim does.
template <class T>
inline void effective_gradient(array_map<T> out, const_array_map<T> grad,
                               const_array_map<T> param, bool maximize, bool add_decay,
                               T weight_decay) {
    if (maximize) {
        out = -grad;
    } else {
        out = grad;
    }
    if (add_decay) {
        out = out + weight_decay * param;
    }
}

template <class T>
FASTOPTIM_FLATTEN void sgd(T* param_data, const T* grad_data, T* buffer_data,
                           bool first_momentum_step, std::size_t size,
                           const sgd_step<T>& s) {
    if (!s.has_momentum && !s.maximize && !s.has_weight_decay) {
        array_map<T> param(param_data, static_cast<std::ptrdiff_t>(size));
        const_array_map<T> grad(grad_data, static_cast<std::ptrdiff_t>(size));
        param = param + s.neg_lr * grad;
        return;
    }

    alignas(64) T scratch[block_size];
    for_each_block(size, [&](std::ptrdiff_t begin, std::ptrdiff_t count) {
        array_map<T> param(param_data + begin, count);
        array_map<T> grad(scratch, count);
        effective_gradient<T>(grad, const_array_map<T>(grad_data + begin, count),
                              const_array_map<T>(param_data + begin, count), s.maximize,
                              s.has_weight_decay, s.weight_decay);
        if (s.has_momentum) {
            array_map<T> buffer(buffer_data + begin, count);
            if (first_momentum_step) {
                buffer = grad;
            } else {
                buffer = buffer * s.momentum + s.damping * grad;
            }
            if (s.nesterov) {
                grad = grad + s.momentum * buffer;
            } else {
                grad = buffer;
            }
        }
        param = param + s.neg_lr * grad;
    });
}

template <class T>
FASTOPTIM_FLATTEN void momentum(T* param_data, const T* grad_data, T* velocity_data,
                                std::size_t size, const momentum_step<T>& s) {
    for_each_block(size, [&](std::ptrdiff_t begin, std::ptrdiff_t count) {
        array_map<T> param(param_data + begin, count);
        const_array_map<T> grad(grad_data + begin, count);
        array_map<T> velocity(velocity_data + begin, count);
        velocity = s.gamma * velocity + s.lr * grad;
        if (s.nesterov) {
            param = param - (s.gamma * velocity + s.lr * grad);
        } else {
            param = param - velocity;
        }
    });
}

template <class T>
FASTOPTIM_FLATTEN void adam(T* param_data, const T* grad_data, T* exp_avg_data,
                            T* exp_avg_sq_data, T* max_exp_avg_sq_data,
                            std::size_t size, const adam_step<T>& s) {
    alignas(64) T scratch[block_size];
    for_each_block(size, [&](std::ptrdiff_t begin, std::ptrdiff_t count) {
        array_map<T> param(param_data + begin, count);
        array_map<T> grad(scratch, count);
        array_map<T> exp_avg(exp_avg_data + begin, count);
        array_map<T> exp_avg_sq(exp_avg_sq_data + begin, count);
        effective_gradient<T>(grad, const_array_map<T>(grad_data + begin, count),
                              const_array_map<T>(param_data + begin, count), s.maximize,
                              s.coupled_decay, s.weight_decay);
        if (s.decoupled_decay) {
            param = param * s.decay_factor;
        }
        if (s.small_weight) {
            exp_avg = exp_avg + s.lerp_weight * (grad - exp_avg);
        } else {
            exp_avg = grad - (grad - exp_avg) * s.lerp_complement;
        }
        exp_avg_sq = exp_avg_sq * s.beta2 + s.one_minus_beta2 * grad * grad;
        if (s.amsgrad) {
            array_map<T> max_exp_avg_sq(max_exp_avg_sq_data + begin, count);
            max_exp_avg_sq =
                max_exp_avg_sq.template max<Eigen::PropagateNaN>(exp_avg_sq);
            param =
                param + s.neg_step_size * exp_avg /
                            (max_exp_avg_sq.sqrt() / s.bias_correction2_sqrt + s.eps);
        } else {
            param = param + s.neg_step_size * exp_avg /
                                (exp_avg_sq.unaryExpr(exact_sqrt<T>()) /
                                     s.bias_correction2_sqrt +
                                 s.eps);
        }
    });
}

// The memory probe's stream: an in-place a += s * b, read twice and written once,
// the access pattern of an optimizer step.
template <class T>
FASTOPTIM_FLATTEN void stream_update(T* a_data, const T* b_data, std::size_t size,
                                     T scale) {
    array_map<T> a(a_data, static_cast<std::ptrdiff_t>(size));
    const_array_map<T> b(b_data, static_cast<std::ptrdiff_t>(size));
    a = a + scale * b;
}

}  // namespace fastoptim::FASTOPTIM_KERNEL_NAMESPACE

template <class T>
struct Eigen::internal::functor_traits<
    fastoptim::FASTOPTIM_KERNEL_NAMESPACE::exact_sqrt<T>> {
    enum { Cost = 5 * NumTraits<T>::MulCost, PacketAccess = 1 };
};
