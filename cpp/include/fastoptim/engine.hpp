// One optimizer's parameters and state, updated by one call per step.
//
// The engine is built once from the addresses of the parameter and state arrays. A
// step takes the gradients' addresses and each group's learning rate, computes the
// scalars of every parameter, and splits the elements of all arrays, taken end to
// end, into chunks that the shared thread pool's threads take in turn. A chunk can
// span several small arrays or be a piece of a large one.
#pragma once

#include <fastoptim/dispatch.hpp>
#include <fastoptim/options.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace fastoptim {

enum class algorithm { sgd, momentum, adam };
enum class precision { float32, float64 };

// One parameter and its state buffers, in the algorithm's order:
// SGD {momentum_buffer}, Momentum {velocity}, Adam {exp_avg, exp_avg_sq,
// max_exp_avg_sq}; a buffer the settings do not use may be null.
struct parameter_slot {
    precision type;
    void* param;
    std::array<void*, 3> state;
    std::size_t size;
    std::size_t group;

    std::size_t type_size() const { return type == precision::float32 ? 4 : 8; }
};

// How many chunks of one thread's share of a step have been taken, and where the
// share lies; each on a cache line of its own, since each thread counts on its own
// most of the time.
struct alignas(64) chunk_cursor {
    std::atomic<std::size_t> next{0};
    std::size_t first = 0;
    std::size_t last = 0;
};

struct group_settings {
    sgd_options sgd;
    momentum_options momentum;
    adam_options adam;
};

class engine {
public:
    // counts: one per parameter; Adam's step counts, or for SGD whether the momentum
    // buffer holds a value yet (0 or 1). The arrays must outlive the engine.
    engine(algorithm kind, std::vector<parameter_slot> slots, std::size_t groups,
           std::int64_t* counts);

    std::size_t parameters() const { return slots_.size(); }
    const parameter_slot& slot(std::size_t index) const { return slots_[index]; }

    void set_group(std::size_t group, const group_settings& settings);

    // Held for a whole step, from filling gradients() to the end of step(), so that
    // two threads stepping the same optimizer take turns.
    std::mutex& mutex() { return mutex_; }

    // The gradient of each parameter for the next step; null leaves it untouched.
    std::vector<const void*>& gradients() { return gradients_; }

    // Update every parameter that has a gradient, with lrs[group] as the learning
    // rate of each group, and advance its count. With skip_nonfinite, first look
    // for an infinite or NaN gradient element; if there is one, change nothing and
    // return false.
    bool step(const std::vector<double>& lrs, bool skip_nonfinite);

private:
    template <class T>
    struct scalars {
        sgd_step<T> sgd;
        momentum_step<T> momentum;
        adam_step<T> adam;
    };

    struct prepared {
        scalars<float> float32;
        scalars<double> float64;
    };

    void prepare(const std::vector<double>& lrs);
    bool gradients_finite();
    void update_range(const kernel_table& kernels, std::size_t begin, std::size_t end,
                      bool prefetch);
    // The first element at or after x, of all parameters end to end, that begins a
    // cache line of its parameter, or begins the next parameter.
    std::size_t line_start(std::size_t x) const;
    // visit(index, first, count) for each piece of a parameter with a gradient
    // among the elements [begin, end) of all parameters end to end.
    template <class Visit>
    void for_each_slot(std::size_t begin, std::size_t end, Visit&& visit) const;
    void update(const kernel_table& kernels, std::size_t index, std::size_t begin,
                std::size_t count, bool prefetch);
    template <class T>
    void update_as(const kernel_set<T>& kernels, const scalars<T>& s, std::size_t index,
                   std::size_t begin, std::size_t count, bool prefetch);

    algorithm kind_;
    std::vector<parameter_slot> slots_;
    std::vector<std::size_t> offsets_;  // first element of each slot, end to end
    std::size_t total_elements_ = 0;
    std::size_t total_cost_ = 0;  // estimated picoseconds on one thread
    std::vector<group_settings> groups_;
    std::int64_t* counts_;
    std::vector<const void*> gradients_;
    std::vector<prepared> prepared_;
    std::vector<chunk_cursor> cursors_;
    std::mutex mutex_;
};

// Steps estimated to take fewer nanoseconds than this on one thread stay on the
// calling thread, where handing work to the pool would cost more than it saves.
std::size_t parallel_threshold();
void set_parallel_threshold(std::size_t nanoseconds);

// Elements per chunk of work handed to a thread.
std::size_t chunk_elements();
void set_chunk_elements(std::size_t elements);

// A stream with an Adam step's accesses, three float32 arrays updated in place and
// one read, over arrays of this many bytes in all, kept from run to run so that a
// benchmark can read the bandwidth between its own timings.
//
// The arrays are laid out as NumPy lays out a large array: on Linux, NumPy asks for
// transparent huge pages, and on 4 KiB pages, where the hardware prefetchers stop
// at every page, the probe read a bandwidth that depended on where its pages landed
// (from 19 to 45 GB/s on one core of one machine) while the steps it is meant to
// bound streamed steadily.
class bandwidth_probe {
public:
    explicit bandwidth_probe(std::size_t bytes);

    // Bytes per second of one pass on the shared pool.
    double run();

    std::size_t bytes() const { return 4 * sizeof(float) * size_; }

private:
    struct array {
        static constexpr std::size_t huge_page = std::size_t{2} << 20;
        array(std::size_t size, float value);
        std::unique_ptr<float[]> storage;
        float* data;
    };

    std::size_t size_;
    array a_;
    array b_;
    array c_;
    array g_;
    std::vector<chunk_cursor> cursors_;
};

// Bytes per second that a step can move: the best of several runs of the probe,
// as STREAM takes.
double memory_bandwidth(std::size_t bytes, int repeats);

// Elements per second that the calling thread takes through one exactly rounded
// square root and one exactly rounded division each, in the given precision: the
// best of several runs over arrays in cache. Any exact Adam step does at least this
// per element, so it bounds Adam where memory does not.
double divider_rate(precision type, int repeats);

}  // namespace fastoptim
