#include <fastoptim/dispatch.hpp>

#include <atomic>
#include <cstdlib>
#include <string>

namespace fastoptim {

// One per build of src/kernels_isa.cpp; CMake says which were built.
const kernel_table& kernels_baseline();
#if defined(FASTOPTIM_HAVE_AVX2)
const kernel_table& kernels_avx2();
#endif
#if defined(FASTOPTIM_HAVE_AVX512)
const kernel_table& kernels_avx512();
#endif

namespace {

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
// __builtin_cpu_supports also checks that the OS saves the wide registers.
bool cpu_has_avx2() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_has_avx512() {
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
#endif

std::vector<const kernel_table*> detect() {
    std::vector<const kernel_table*> tables{&kernels_baseline()};
#if defined(FASTOPTIM_HAVE_AVX2)
    if (cpu_has_avx2()) {
        tables.push_back(&kernels_avx2());
    }
#endif
#if defined(FASTOPTIM_HAVE_AVX512)
    if (cpu_has_avx512()) {
        tables.push_back(&kernels_avx512());
    }
#endif
    return tables;
}

const kernel_table* find(const std::string& isa) {
    for (const kernel_table* table : supported_kernels()) {
        if (isa == table->isa) {
            return table;
        }
    }
    return nullptr;
}

std::atomic<const kernel_table*>& active() {
    static std::atomic<const kernel_table*> table{[] {
        const char* requested = std::getenv("FASTOPTIM_ISA");
        const kernel_table* chosen = requested ? find(requested) : nullptr;
        return chosen ? chosen : supported_kernels().back();
    }()};
    return table;
}

}  // namespace

const std::vector<const kernel_table*>& supported_kernels() {
    static const std::vector<const kernel_table*> tables = detect();
    return tables;
}

const kernel_table& active_kernels() {
    return *active().load(std::memory_order_acquire);
}

namespace {

bool default_prefetching() {
    if (const char* text = std::getenv("FASTOPTIM_PREFETCH")) {
        const std::string value = text;
        if (value == "0" || value == "1") {
            return value == "1";
        }
    }
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return !__builtin_cpu_is("amd");
#else
    return true;
#endif
}

std::atomic<bool>& prefetch_setting() {
    static std::atomic<bool> on{default_prefetching()};
    return on;
}

}  // namespace

bool prefetching() { return prefetch_setting().load(std::memory_order_relaxed); }

void set_prefetching(bool on) {
    prefetch_setting().store(on, std::memory_order_relaxed);
}

bool select_kernels(const std::string& isa) {
    const kernel_table* table = find(isa);
    if (table) {
        active().store(table, std::memory_order_release);
    }
    return table != nullptr;
}

}  // namespace fastoptim
