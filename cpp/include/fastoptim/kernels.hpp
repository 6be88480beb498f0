// Update kernels: one function per algorithm, over a range of one parameter array and
// its state, written once on Eigen's SIMD packets and compiled once per instruction
// set.
//
// Each kernel reads every array once and writes the state once, one vector of
// elements at a time, so a step is a single pass over memory in which the loads of
// the next elements overlap the arithmetic of the current ones. The body of a kernel
// is a generic lambda run on a full packet and, for the last elements, on a single
// value of the same type: one formula for both.
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
#include <type_traits>
#include <utility>

#if defined(__SSE2__) || defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#endif

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

namespace simd = Eigen::internal;

// Runs body(V{}, i) for the elements from i on: V is the widest packet of T while a
// whole one fits, then T itself for the rest.
template <class T, class Body>
inline void for_each_packet(std::size_t size, Body&& body) {
    using packet = typename simd::packet_traits<T>::type;
    constexpr std::size_t width = simd::unpacket_traits<packet>::size;
    std::size_t i = 0;
    for (; i + width <= size; i += width) {
        body(packet{}, i);
    }
    for (; i < size; ++i) {
        body(T{}, i);
    }
}

// The packet of type V holding value in every lane (V = T gives value itself).
template <class V, class T>
inline V broadcast(T value) {
    return simd::pset1<V>(value);
}

// -x, exactly, zeros included: some of Eigen's packet negations compute 0 - x, which
// turns -0 into +0 where NumPy gives -0.
template <class V>
inline V negate(const V& x) {
    using scalar = typename simd::unpacket_traits<V>::type;
    return simd::pmul(broadcast<V>(scalar(-1)), x);
}

// With Prefetch true, asks for the cache line 2 KiB past data + i, to be read (Write
// false) or written, if it lies within the first size elements. The hardware
// prefetchers follow each array, but on some CPUs a kernel with as much arithmetic
// per element as Adam's issues its loads of the next lines too late to keep the
// memory bus busy, and asking ahead does; on others it slows the stream instead
// (see prefetching()). The range ends where another thread's share may begin, and
// a prefetch for writing would take that thread's lines away from it: none is made
// past the end.
template <bool Write, class V, class Prefetch, class T>
inline void prefetch_ahead(Prefetch, [[maybe_unused]] const T* data,
                           [[maybe_unused]] std::size_t i,
                           [[maybe_unused]] std::size_t size) {
#if defined(__GNUC__)
    if constexpr (Prefetch::value && !std::is_same_v<V, T>) {
        constexpr std::size_t distance = 2048 / sizeof(T);
        if (i + distance < size) {
            __builtin_prefetch(data + i + distance, Write ? 1 : 0);
        }
    }
#endif
}

// The gradient as the update sees it: negated to maximise, plus weight_decay * param
// when the decay is added to the gradient, as torch.optim does.
template <class V, class T>
inline V effective_gradient(V g, const V& p, bool maximize, bool add_decay,
                            T weight_decay) {
    if (maximize) {
        g = negate(g);
    }
    if (add_decay) {
        g = simd::padd(g, simd::pmul(broadcast<V>(weight_decay), p));
    }
    return g;
}

// x / c for float x, from reciprocal = 1 / c in double, exactly rounded: the double
// product x * reciprocal lies within 2^-52 of x / c, while a quotient of two floats is
// either a float or more than 2^-49 (relatively) away from every point halfway
// between two floats, so rounding the product to float rounds x / c. A multiply
// and two conversions take the place of a division, and the divider, which the
// square root and the other division of Adam keep busy, is what bounds its time on
// arrays in cache.
inline float divide_exactly(float x, double reciprocal) {
    return static_cast<float>(static_cast<double>(x) * reciprocal);
}

#if defined(__AVX512F__)
inline __m512 divide_exactly(__m512 x, double reciprocal) {
    const __m512d r = _mm512_set1_pd(reciprocal);
    const __m256 low =
        _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), r));
    const __m256 high = _mm512_cvtpd_ps(_mm512_mul_pd(
        _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))),
        r));
    return _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_castps256_ps512(low)), _mm256_castps_pd(high), 1));
}
#endif

#if defined(__AVX__)
inline __m256 divide_exactly(__m256 x, double reciprocal) {
    const __m256d r = _mm256_set1_pd(reciprocal);
    const __m128 low =
        _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), r));
    const __m128 high =
        _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), r));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1);
}
#endif

#if defined(__SSE2__)
inline __m128 divide_exactly(__m128 x, double reciprocal) {
    const __m128d r = _mm_set1_pd(reciprocal);
    const __m128 low = _mm_cvtpd_ps(_mm_mul_pd(_mm_cvtps_pd(x), r));
    const __m128 high = _mm_cvtpd_ps(_mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(x, x)), r));
    return _mm_movelh_ps(low, high);
}
#endif

#if defined(__aarch64__) && defined(__ARM_NEON)
inline float32x4_t divide_exactly(float32x4_t x, double reciprocal) {
    const float64x2_t r = vdupq_n_f64(reciprocal);
    const float32x2_t low = vcvt_f32_f64(vmulq_f64(vcvt_f64_f32(vget_low_f32(x)), r));
    return vcvt_high_f32_f64(low, vmulq_f64(vcvt_high_f64_f32(x), r));
}
#endif

template <class V, class = void>
struct has_divide_exactly : std::false_type {};

template <class V>
struct has_divide_exactly<V,
                          std::void_t<decltype(divide_exactly(std::declval<V>(), 0.0))>>
    : std::true_type {};

// x / c, exactly rounded: float values and packets go through divide_exactly where
// this build has it for the packet, everything else through the divider.
template <class V, class T>
inline V divide_by_scalar(const V& x, T c, double reciprocal) {
    if constexpr (std::is_same_v<T, float> && has_divide_exactly<V>::value) {
        return divide_exactly(x, reciprocal);
    } else {
        return simd::pdiv(x, broadcast<V>(c));
    }
}

// Calls body(std::bool_constant<flag>{}...) for the given runtime flags, so that a
// kernel's loop is compiled once for each combination and tests none of them per
// element.
template <class Body>
inline void with_flags(Body&& body) {
    body();
}

template <class Body, class... Flags>
inline void with_flags(Body&& body, bool first, Flags... rest) {
    if (first) {
        with_flags([&](auto... more) { body(std::true_type{}, more...); }, rest...);
    } else {
        with_flags([&](auto... more) { body(std::false_type{}, more...); }, rest...);
    }
}

// The kernels take their scalars by value: a reference could alias the arrays they
// store to, as far as the compiler knows, and every store would reload them.

template <class T>
FASTOPTIM_FLATTEN void sgd(T* param, const T* grad, T* buffer, bool first_momentum_step,
                           std::size_t size, const sgd_step<T> s, bool prefetch) {
    with_flags(
        [&](auto maximize, auto has_weight_decay, auto has_momentum, auto first,
            auto nesterov, auto ahead) {
            for_each_packet<T>(size, [&](auto tag, std::size_t i) {
                using V = decltype(tag);
                prefetch_ahead<true, V>(ahead, param, i, size);
                prefetch_ahead<false, V>(ahead, grad, i, size);
                if constexpr (has_momentum) {
                    prefetch_ahead<true, V>(ahead, buffer, i, size);
                }
                const V p = simd::ploadu<V>(param + i);
                V g = effective_gradient(simd::ploadu<V>(grad + i), p, maximize,
                                         has_weight_decay, s.weight_decay);
                if constexpr (has_momentum) {
                    V b = g;
                    if constexpr (!first) {
                        b = simd::padd(simd::pmul(simd::ploadu<V>(buffer + i),
                                                  broadcast<V>(s.momentum)),
                                       simd::pmul(broadcast<V>(s.damping), g));
                    }
                    simd::pstoreu(buffer + i, b);
                    if constexpr (nesterov) {
                        g = simd::padd(g, simd::pmul(broadcast<V>(s.momentum), b));
                    } else {
                        g = b;
                    }
                }
                simd::pstoreu(param + i,
                              simd::padd(p, simd::pmul(broadcast<V>(s.neg_lr), g)));
            });
        },
        s.maximize, s.has_weight_decay, s.has_momentum, first_momentum_step, s.nesterov,
        prefetch);
}

template <class T>
FASTOPTIM_FLATTEN void momentum(T* param, const T* grad, T* velocity, std::size_t size,
                                const momentum_step<T> s, bool prefetch) {
    with_flags(
        [&](auto nesterov, auto ahead) {
            for_each_packet<T>(size, [&](auto tag, std::size_t i) {
                using V = decltype(tag);
                prefetch_ahead<true, V>(ahead, param, i, size);
                prefetch_ahead<false, V>(ahead, grad, i, size);
                prefetch_ahead<true, V>(ahead, velocity, i, size);
                const V g = simd::ploadu<V>(grad + i);
                const V v = simd::padd(
                    simd::pmul(broadcast<V>(s.gamma), simd::ploadu<V>(velocity + i)),
                    simd::pmul(broadcast<V>(s.lr), g));
                simd::pstoreu(velocity + i, v);
                V step = v;
                if constexpr (nesterov) {
                    step = simd::padd(simd::pmul(broadcast<V>(s.gamma), v),
                                      simd::pmul(broadcast<V>(s.lr), g));
                }
                simd::pstoreu(param + i, simd::psub(simd::ploadu<V>(param + i), step));
            });
        },
        s.nesterov, prefetch);
}

template <class T>
FASTOPTIM_FLATTEN void adam(T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                            T* max_exp_avg_sq, std::size_t size, const adam_step<T> s,
                            bool prefetch) {
    with_flags(
        [&](auto maximize, auto coupled_decay, auto decoupled_decay, auto amsgrad,
            auto small_weight, auto ahead) {
            for_each_packet<T>(size, [&](auto tag, std::size_t i) {
                using V = decltype(tag);
                prefetch_ahead<true, V>(ahead, param, i, size);
                prefetch_ahead<false, V>(ahead, grad, i, size);
                prefetch_ahead<true, V>(ahead, exp_avg, i, size);
                prefetch_ahead<true, V>(ahead, exp_avg_sq, i, size);
                if constexpr (amsgrad) {
                    prefetch_ahead<true, V>(ahead, max_exp_avg_sq, i, size);
                }
                V p = simd::ploadu<V>(param + i);
                const V g = effective_gradient(simd::ploadu<V>(grad + i), p, maximize,
                                               coupled_decay, s.weight_decay);
                if constexpr (decoupled_decay) {
                    p = simd::pmul(p, broadcast<V>(s.decay_factor));
                }

                // torch's lerp takes one of two algebraically equal forms by the size
                // of the weight, and each rounds differently.
                V m = simd::ploadu<V>(exp_avg + i);
                if constexpr (small_weight) {
                    m = simd::padd(
                        m, simd::pmul(broadcast<V>(s.lerp_weight), simd::psub(g, m)));
                } else {
                    m = simd::psub(g, simd::pmul(simd::psub(g, m),
                                                 broadcast<V>(s.lerp_complement)));
                }
                V v = simd::padd(
                    simd::pmul(simd::ploadu<V>(exp_avg_sq + i), broadcast<V>(s.beta2)),
                    simd::pmul(simd::pmul(broadcast<V>(s.one_minus_beta2), g), g));
                simd::pstoreu(exp_avg + i, m);
                simd::pstoreu(exp_avg_sq + i, v);
                if constexpr (amsgrad) {
                    v = simd::pmax<Eigen::PropagateNaN>(
                        simd::ploadu<V>(max_exp_avg_sq + i), v);
                    simd::pstoreu(max_exp_avg_sq + i, v);
                }

                const V denom =
                    simd::padd(divide_by_scalar(simd::psqrt(v), s.bias_correction2_sqrt,
                                                s.bias_correction2_sqrt_reciprocal),
                               broadcast<V>(s.eps));
                const V update =
                    simd::pdiv(simd::pmul(broadcast<V>(s.neg_step_size), m), denom);
                simd::pstoreu(param + i, simd::padd(p, update));
            });
        },
        s.maximize, s.coupled_decay, s.decoupled_decay, s.amsgrad, s.small_weight,
        prefetch);
}

// Whether every element is finite: x * 0 is 0 for a finite x and NaN for an
// infinite or NaN one, and a NaN survives every addition after it.
template <class T>
FASTOPTIM_FLATTEN bool all_finite(const T* data, std::size_t size) {
    using packet = typename simd::packet_traits<T>::type;
    packet lanes = simd::pset1<packet>(T(0));
    T rest = T(0);
    for_each_packet<T>(size, [&](auto tag, std::size_t i) {
        using V = decltype(tag);
        const V zeroed = simd::pmul(simd::ploadu<V>(data + i), broadcast<V>(T(0)));
        if constexpr (std::is_same_v<V, T>) {
            rest = rest + zeroed;
        } else {
            lanes = simd::padd(lanes, zeroed);
        }
    });
    T lane_values[simd::unpacket_traits<packet>::size];
    simd::pstoreu(lane_values, lanes);
    for (const T value : lane_values) {
        rest = rest + value;
    }
    return rest == rest;
}

// The memory probe's stream: the accesses of an Adam step without its arithmetic.
// Three arrays are read and written in place and a fourth is read, element by
// element: x += s * g for x in a, b, c.
template <class T>
FASTOPTIM_FLATTEN void stream_update(T* a, T* b, T* c, const T* g, std::size_t size,
                                     T scale) {
    for_each_packet<T>(size, [&](auto tag, std::size_t i) {
        using V = decltype(tag);
        const V step = simd::pmul(broadcast<V>(scale), simd::ploadu<V>(g + i));
        simd::pstoreu(a + i, simd::padd(simd::ploadu<V>(a + i), step));
        simd::pstoreu(b + i, simd::padd(simd::ploadu<V>(b + i), step));
        simd::pstoreu(c + i, simd::padd(simd::ploadu<V>(c + i), step));
    });
}

// The divider probe's stream: out = x / (sqrt(x) + 1), one exactly rounded square
// root and one exactly rounded division per element, the arithmetic of an Adam step
// that no exact kernel can do without, over arrays small enough to stay in cache.
template <class T>
FASTOPTIM_FLATTEN void root_and_divide(const T* x, T* out, std::size_t size) {
    for_each_packet<T>(size, [&](auto tag, std::size_t i) {
        using V = decltype(tag);
        const V value = simd::ploadu<V>(x + i);
        simd::pstoreu(out + i, simd::pdiv(value, simd::padd(simd::psqrt(value),
                                                            broadcast<V>(T(1)))));
    });
}

}  // namespace fastoptim::FASTOPTIM_KERNEL_NAMESPACE
