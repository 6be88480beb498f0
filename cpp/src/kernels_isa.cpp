// The kernel table of one instruction set. CMake compiles this file once per
// instruction set, with that set's flags, FASTOPTIM_KERNEL_NAMESPACE naming it and
// Eigen's namespace renamed to match, so the builds share no symbol.
#include <fastoptim/dispatch.hpp>
#include <fastoptim/kernels.hpp>

#define FASTOPTIM_CONCAT_INNER(a, b) a##b
#define FASTOPTIM_CONCAT(a, b) FASTOPTIM_CONCAT_INNER(a, b)
#define FASTOPTIM_STRING_INNER(a) #a
#define FASTOPTIM_STRING(a) FASTOPTIM_STRING_INNER(a)

namespace fastoptim {

namespace isa = FASTOPTIM_KERNEL_NAMESPACE;

template <class T>
constexpr kernel_set<T> kernels_of() {
    return {&isa::sgd<T>,        &isa::momentum<T>,      &isa::adam<T>,
            &isa::all_finite<T>, &isa::stream_update<T>, &isa::root_and_divide<T>};
}

const kernel_table& FASTOPTIM_CONCAT(kernels_, FASTOPTIM_KERNEL_NAMESPACE)() {
#if defined(FASTOPTIM_ISA_LABEL)
    static const kernel_table table{FASTOPTIM_ISA_LABEL, kernels_of<float>(),
                                    kernels_of<double>()};
#else
    static const kernel_table table{FASTOPTIM_STRING(FASTOPTIM_KERNEL_NAMESPACE),
                                    kernels_of<float>(), kernels_of<double>()};
#endif
    return table;
}

}  // namespace fastoptim
