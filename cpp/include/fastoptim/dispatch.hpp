// The kernels of each instruction set this binary was built for, and the choice among
// them by what the CPU can run.
#pragma once

#include <fastoptim/options.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace fastoptim {

template <class T>
struct kernel_set {
    // prefetch: ask for each array's data ahead of the hardware prefetchers.
    void (*sgd)(T* param, const T* grad, T* buffer, bool first_momentum_step,
                std::size_t size, sgd_step<T> s, bool prefetch);
    void (*momentum)(T* param, const T* grad, T* velocity, std::size_t size,
                     momentum_step<T> s, bool prefetch);
    void (*adam)(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 std::size_t size, adam_step<T> s, bool prefetch);
    bool (*all_finite)(const T* data, std::size_t size);
    void (*stream_update)(T* a, T* b, T* c, const T* g, std::size_t size, T scale);
    void (*root_and_divide)(const T* x, T* out, std::size_t size);
};

struct kernel_table {
    const char* isa;  // "baseline", "avx2", "avx512" or "neon"
    kernel_set<float> float32;
    kernel_set<double> float64;
};

// Every instruction set built in that this CPU supports, from the lowest to the best.
const std::vector<const kernel_table*>& supported_kernels();

// The kernels in use: the best supported at first, or the one FASTOPTIM_ISA names.
const kernel_table& active_kernels();

// Switch to the supported instruction set of this name; false if there is none.
bool select_kernels(const std::string& isa);

// Whether the update kernels prefetch ahead of the hardware. Asking 2 KiB ahead made
// float32 Adam over 1.6e7 elements 1.4 times as fast on an Intel Xeon, and streams
// from memory 4 to 16% slower on an AMD EPYC (Zen 4): on by default except on AMD
// CPUs, or as FASTOPTIM_PREFETCH (0 or 1) says. Results are the same bits either way.
bool prefetching();
void set_prefetching(bool on);

}  // namespace fastoptim
