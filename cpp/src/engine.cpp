#include <fastoptim/engine.hpp>
#include <fastoptim/thread_pool.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fastoptim {
namespace {

// Steps estimated to take less than this on one thread stay there: handing work to
// a spinning worker costs about a microsecond, waking a sleeping one more.
std::atomic<std::size_t> threshold_ns{4000};

// The time of one element on one thread with the data in cache, in picoseconds, as
// measured with AVX-512 on a 2-core Xeon: Adam's square root and two divisions make
// it several times dearer than SGD. Only the order of magnitude matters.
std::size_t element_cost(algorithm kind, const group_settings& settings,
                         precision type) {
    const bool wide = type == precision::float64;
    switch (kind) {
        case algorithm::sgd:
            if (settings.sgd.momentum != 0.0) {
                return wide ? 500 : 300;
            }
            return wide ? 260 : 170;
        case algorithm::momentum:
            return wide ? 500 : 300;
        case algorithm::adam:
            return wide ? 2700 : 900;
    }
    return 1000;
}

// 16K elements: 64 KB of a float32 parameter, with its gradient and state well under
// a core's L2, and few enough chunks per step that taking one costs nothing.
std::atomic<std::size_t> chunk_size{1 << 14};

// The unit in which cores pass memory between them: 64 bytes on x86-64 and most
// ARM cores.
constexpr std::size_t cache_line = 64;

// Elements below which a chunk is not split further for threads: taking a chunk
// costs an atomic increment, small next to this much work.
constexpr std::size_t smallest_chunk = 1024;

// Thread t first works through share t of the elements, the same share at every
// step, so that arrays which fit in the caches stay in the caches of one core from
// step to step; then the caller takes what is left of the other shares, so that a
// thread that starts late or is interrupted holds no one up. When shares are cut
// into several chunks, every thread takes what is left. Shares and chunks begin
// where align(x) says, the first element at or after x that starts a cache line: two
// threads writing the two ends of one line would pass it back and forth.
template <class Range, class Align>
void run_chunks(std::size_t total, std::size_t threads,
                std::vector<chunk_cursor>& cursors, Range&& range, Align&& align) {
    threads = std::min(threads, total / smallest_chunk);
    if (threads <= 1) {
        range(0, total);
        return;
    }
    // A share no longer than a chunk is taken whole: each chunk taken passes a
    // counter's cache line between cores, which costs more than a short share
    // gains from being split. Longer shares are cut into about eight chunks each.
    const std::size_t largest = chunk_size.load(std::memory_order_relaxed);
    const std::size_t share_size = total / threads;
    const bool whole_shares = share_size <= largest;
    const std::size_t chunk = whole_shares
                                  ? share_size + cache_line
                                  : std::max(std::min(total / (8 * threads), largest),
                                             std::min(smallest_chunk, largest));
    if (cursors.size() < threads) {
        cursors = std::vector<chunk_cursor>(threads);
    }
    for (std::size_t share = 0; share < threads; ++share) {
        chunk_cursor& cursor = cursors[share];
        cursor.next.store(0, std::memory_order_relaxed);
        cursor.first = align(share_size * share);
        cursor.last = share + 1 == threads ? total : align(share_size * (share + 1));
    }

    // On a small step the time a worker takes to start counts: it reads its
    // share from the cursor it takes a chunk from, and everything else from this
    // closure, all in a few cache lines, instead of from the caller's frame and the
    // engine. A whole share is ended by its one chunk, and a worker leaves the
    // shares of others to the caller, which takes each share it finds untaken: a
    // worker looking at the caller's share would wait for its cache line to learn
    // nothing.
    chunk_cursor* const shares = cursors.data();
    auto task = [&range, &align, shares, threads, chunk,
                 whole_shares](std::size_t index) {
        const std::size_t visits = whole_shares && index > 0 ? 1 : threads;
        for (std::size_t k = 0; k < visits; ++k) {
            chunk_cursor& cursor = shares[(index + k) % threads];
            const std::size_t first = cursor.first;
            const std::size_t last = cursor.last;
            for (std::size_t end = first; end < last;) {
                const std::size_t taken =
                    cursor.next.fetch_add(1, std::memory_order_relaxed);
                const std::size_t begin =
                    taken == 0 ? first : align(first + taken * chunk);
                if (begin >= last) {
                    break;
                }
                const std::size_t reach = first + (taken + 1) * chunk;
                end = reach >= last ? last : std::min(align(reach), last);
                if (end > begin) {
                    range(begin, end);
                }
            }
        }
    };
    const std::shared_ptr<thread_pool> pool = shared_pool();
    pool->run(threads, task);
}

template <class T>
T* advance(void* data, std::size_t offset) {
    return data ? static_cast<T*>(data) + offset : nullptr;
}

}  // namespace

std::size_t parallel_threshold() { return threshold_ns.load(); }
void set_parallel_threshold(std::size_t nanoseconds) {
    threshold_ns.store(nanoseconds);
}
std::size_t chunk_elements() { return chunk_size.load(); }
void set_chunk_elements(std::size_t elements) {
    chunk_size.store(elements < 1 ? 1 : elements);
}

engine::engine(algorithm kind, std::vector<parameter_slot> slots, std::size_t groups,
               std::int64_t* counts)
    : kind_(kind),
      slots_(std::move(slots)),
      groups_(groups),
      counts_(counts),
      gradients_(slots_.size(), nullptr),
      prepared_(slots_.size()) {
    offsets_.reserve(slots_.size());
    for (const parameter_slot& slot : slots_) {
        offsets_.push_back(total_elements_);
        total_elements_ += slot.size;
    }
}

void engine::set_group(std::size_t group, const group_settings& settings) {
    groups_.at(group) = settings;
}

void engine::prepare(const std::vector<double>& lrs) {
    // Parameters of one group at one step count share their scalars; compute them
    // once per run of such parameters rather than once each.
    std::size_t last = slots_.size();
    total_cost_ = 0;
    for (std::size_t index = 0; index < slots_.size(); ++index) {
        if (!gradients_[index]) {
            continue;
        }
        const parameter_slot& slot = slots_[index];
        const group_settings& settings = groups_[slot.group];
        const double lr = lrs[slot.group];
        prepared& p = prepared_[index];
        const bool same = last < slots_.size() && slot.group == slots_[last].group &&
                          slot.type == slots_[last].type &&
                          (kind_ != algorithm::adam || counts_[index] == counts_[last]);
        const bool wide = slot.type == precision::float64;
        if (same) {
            p = prepared_[last];
        } else if (kind_ == algorithm::sgd) {
            if (wide) {
                p.float64.sgd = make_sgd_step<double>(settings.sgd, lr);
            } else {
                p.float32.sgd = make_sgd_step<float>(settings.sgd, lr);
            }
        } else if (kind_ == algorithm::momentum) {
            if (wide) {
                p.float64.momentum = make_momentum_step<double>(settings.momentum, lr);
            } else {
                p.float32.momentum = make_momentum_step<float>(settings.momentum, lr);
            }
        } else if (wide) {
            p.float64.adam =
                make_adam_step<double>(settings.adam, lr, counts_[index] + 1);
        } else {
            p.float32.adam =
                make_adam_step<float>(settings.adam, lr, counts_[index] + 1);
        }
        last = index;

        total_cost_ += element_cost(kind_, settings, slot.type) * slot.size;
    }
}

template <class T>
void engine::update_as(const kernel_set<T>& kernels, const scalars<T>& s,
                       std::size_t index, std::size_t begin, std::size_t count,
                       bool prefetch) {
    const parameter_slot& slot = slots_[index];
    T* param = advance<T>(slot.param, begin);
    const T* grad = static_cast<const T*>(gradients_[index]) + begin;
    T* first = advance<T>(slot.state[0], begin);
    if (kind_ == algorithm::sgd) {
        kernels.sgd(param, grad, first, counts_[index] == 0, count, s.sgd, prefetch);
    } else if (kind_ == algorithm::momentum) {
        kernels.momentum(param, grad, first, count, s.momentum, prefetch);
    } else {
        kernels.adam(param, grad, first, advance<T>(slot.state[1], begin),
                     advance<T>(slot.state[2], begin), count, s.adam, prefetch);
    }
}

void engine::update(const kernel_table& kernels, std::size_t index, std::size_t begin,
                    std::size_t count, bool prefetch) {
    const prepared& p = prepared_[index];
    if (slots_[index].type == precision::float32) {
        update_as(kernels.float32, p.float32, index, begin, count, prefetch);
    } else {
        update_as(kernels.float64, p.float64, index, begin, count, prefetch);
    }
}

std::size_t engine::line_start(std::size_t x) const {
    if (x >= total_elements_) {
        return total_elements_;
    }
    const auto index = static_cast<std::size_t>(
        std::upper_bound(offsets_.begin(), offsets_.end(), x) - offsets_.begin() - 1);
    const parameter_slot& slot = slots_[index];
    const std::size_t within = x - offsets_[index];
    if (within == 0) {
        return x;
    }
    const auto address =
        reinterpret_cast<std::uintptr_t>(slot.param) + within * slot.type_size();
    const std::size_t gap = (cache_line - address % cache_line) % cache_line;
    return std::min(x + gap / slot.type_size(), offsets_[index] + slot.size);
}

template <class Visit>
void engine::for_each_slot(std::size_t begin, std::size_t end, Visit&& visit) const {
    auto first = std::upper_bound(offsets_.begin(), offsets_.end(), begin);
    for (auto index = static_cast<std::size_t>(first - offsets_.begin()) - 1;
         index < slots_.size() && offsets_[index] < end; ++index) {
        const std::size_t offset = offsets_[index];
        const std::size_t from = std::max(begin, offset) - offset;
        const std::size_t to = std::min(end, offset + slots_[index].size) - offset;
        if (to > from && gradients_[index]) {
            visit(index, from, to - from);
        }
    }
}

void engine::update_range(const kernel_table& kernels, std::size_t begin,
                          std::size_t end, bool prefetch) {
    for_each_slot(begin, end,
                  [&](std::size_t index, std::size_t from, std::size_t count) {
                      update(kernels, index, from, count, prefetch);
                  });
}

bool engine::gradients_finite() {
    const kernel_table& kernels = active_kernels();
    std::atomic<bool> finite{true};
    const std::size_t threads =
        total_cost_ / 1000 >= parallel_threshold() * 4 ? shared_pool()->size() : 1;
    run_chunks(
        total_elements_, threads, cursors_,
        [&](std::size_t begin, std::size_t end) {
            if (!finite.load(std::memory_order_relaxed)) {
                return;
            }
            for_each_slot(
                begin, end,
                [&](std::size_t index, std::size_t from, std::size_t count) {
                    const void* grad = gradients_[index];
                    const bool ok =
                        slots_[index].type == precision::float32
                            ? kernels.float32.all_finite(
                                  static_cast<const float*>(grad) + from, count)
                            : kernels.float64.all_finite(
                                  static_cast<const double*>(grad) + from, count);
                    if (!ok) {
                        finite.store(false, std::memory_order_relaxed);
                    }
                });
        },
        [&](std::size_t x) { return line_start(x); });
    return finite.load();
}

bool engine::step(const std::vector<double>& lrs, bool skip_nonfinite) {
    prepare(lrs);
    if (skip_nonfinite && !gradients_finite()) {
        return false;
    }

    const kernel_table& kernels = active_kernels();
    const bool prefetch = prefetching();
    const std::size_t threads =
        total_cost_ / 1000 >= parallel_threshold() ? shared_pool()->size() : 1;
    run_chunks(
        total_elements_, threads, cursors_,
        [&](std::size_t begin, std::size_t end) {
            update_range(kernels, begin, end, prefetch);
        },
        [&](std::size_t x) { return line_start(x); });

    for (std::size_t index = 0; index < slots_.size(); ++index) {
        if (!gradients_[index]) {
            continue;
        }
        if (kind_ == algorithm::adam) {
            ++counts_[index];
        } else if (kind_ == algorithm::sgd) {
            const bool uses_buffer = groups_[slots_[index].group].sgd.momentum != 0.0;
            counts_[index] = counts_[index] != 0 || uses_buffer;
        }
    }
    return true;
}

bandwidth_probe::array::array(std::size_t size, float value)
    : storage(new float[size + huge_page / sizeof(float)]) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage.get());
    data =
        storage.get() + (huge_page - address % huge_page) % huge_page / sizeof(float);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Advice only, given before the first touch: where it is refused, the probe
    // runs on small pages.
    static_cast<void>(madvise(data, size * sizeof(float), MADV_HUGEPAGE));
#endif
    std::fill(data, data + size, value);
}

bandwidth_probe::bandwidth_probe(std::size_t bytes)
    : size_(std::max<std::size_t>(bytes / (4 * sizeof(float)), 1)),
      a_(size_, 1.0f),
      b_(size_, 1.0f),
      c_(size_, 1.0f),
      g_(size_, 1e-7f) {
    // The first pass faults in whatever pages the fill left unmapped.
    run();
}

double bandwidth_probe::run() {
    // Three float32 arrays updated in place and one read: 28 bytes an element cross
    // the bus, as in an Adam step.
    constexpr std::size_t bytes_per_element = 7 * sizeof(float);
    const kernel_table& kernels = active_kernels();
    const auto stream = [&](std::size_t begin, std::size_t end) {
        kernels.float32.stream_update(a_.data + begin, b_.data + begin, c_.data + begin,
                                      g_.data + begin, end - begin, 1e-3f);
    };
    // Far more elements than threads: where a chunk starts does not matter here.
    const auto anywhere = [](std::size_t x) { return x; };
    const std::size_t threads = shared_pool()->size();
    const auto start = std::chrono::steady_clock::now();
    run_chunks(size_, threads, cursors_, stream, anywhere);
    const std::chrono::duration<double> seconds =
        std::chrono::steady_clock::now() - start;
    return static_cast<double>(bytes_per_element * size_) / seconds.count();
}

double memory_bandwidth(std::size_t bytes, int repeats) {
    bandwidth_probe probe(bytes);
    double best = 0.0;
    for (int run = 0; run < std::max(repeats, 1); ++run) {
        best = std::max(best, probe.run());
    }
    return best;
}

namespace {

template <class T>
double divider_rate_as(const kernel_set<T>& kernels, int repeats) {
    // 16 KB of input and as much output: in every core's first-level cache. Each
    // run is long enough for the timer's resolution not to matter.
    constexpr std::size_t size = 2048;
    constexpr int passes = 64;
    std::vector<T> x(size);
    std::vector<T> out(size);
    for (std::size_t i = 0; i < size; ++i) {
        x[i] = T(1) + static_cast<T>(i) / T(size);
    }
    kernels.root_and_divide(x.data(), out.data(), size);
    double best = 0.0;
    for (int run = 0; run < std::max(repeats, 1); ++run) {
        const auto start = std::chrono::steady_clock::now();
        for (int pass = 0; pass < passes; ++pass) {
            kernels.root_and_divide(x.data(), out.data(), size);
        }
        const std::chrono::duration<double> seconds =
            std::chrono::steady_clock::now() - start;
        best = std::max(best, static_cast<double>(size * passes) / seconds.count());
    }
    return best;
}

}  // namespace

double divider_rate(precision type, int repeats) {
    const kernel_table& kernels = active_kernels();
    return type == precision::float32 ? divider_rate_as(kernels.float32, repeats)
                                      : divider_rate_as(kernels.float64, repeats);
}

}  // namespace fastoptim
