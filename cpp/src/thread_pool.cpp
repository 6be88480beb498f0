#include <fastoptim/thread_pool.hpp>

#include <chrono>
#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace fastoptim {
namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// How long an idle worker polls for the next task before it sleeps. Training loops
// call step back to back between gradient computations; polling for a short while
// saves them the wake-up of a sleeping thread, and sleeping after it gives the core
// back.
constexpr auto spin_time = std::chrono::microseconds(200);

template <class Ready>
bool spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + spin_time;
    for (unsigned round = 1;; ++round) {
        if (ready()) {
            return true;
        }
        cpu_relax();
        if (round % 64 == 0 && std::chrono::steady_clock::now() > deadline) {
            return false;
        }
    }
}

}  // namespace

thread_pool::thread_pool(std::size_t threads) {
    for (std::size_t index = 1; index < threads; ++index) {
        workers_.emplace_back([this, index] { work(index); });
    }
}

thread_pool::~thread_pool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) {
        worker.join();
    }
}

void thread_pool::run_erased(std::size_t count, erased_task task, void* context) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (count <= 1 || workers_.empty() || !busy.owns_lock()) {
        task(context, 0);
        return;
    }

    task_.store(task, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    count_.store(count, std::memory_order_relaxed);
    const std::uint64_t generation = generation_.load() + 1;
    open_.store(generation);
    generation_.store(generation);
    // Sequentially consistent with the sleeper count a worker raises before its last
    // look at generation_: either it sees this task or this load sees it asleep.
    if (sleepers_.load() > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        wake_.notify_all();
    }
    task(context, 0);

    // Sequentially consistent with the worker's join: either a worker saw the task
    // closed and left it alone, or this load sees that worker counted in active_.
    open_.store(0);
    if (!spin_until([&] { return active_.load() == 0; })) {
        std::unique_lock<std::mutex> lock(mutex_);
        finished_.wait(lock, [&] { return active_.load() == 0; });
    }
}

void thread_pool::work(std::size_t index) {
    std::uint64_t seen = 0;
    for (;;) {
        const auto fresh = [&] { return generation_.load() != seen; };
        if (!spin_until(fresh)) {
            std::unique_lock<std::mutex> lock(mutex_);
            sleepers_.fetch_add(1);
            wake_.wait(lock, [&] { return stopping_ || fresh(); });
            sleepers_.fetch_sub(1);
            if (stopping_) {
                return;
            }
        }
        seen = generation_.load();
        const erased_task task = task_.load(std::memory_order_relaxed);
        void* const context = context_.load(std::memory_order_relaxed);
        const std::size_t count = count_.load(std::memory_order_relaxed);
        if (index >= count) {
            continue;
        }
        // The caller has just written the task's context, so it is in the caller's
        // cache: fetch it while joining, not after.
#if defined(__GNUC__)
        __builtin_prefetch(context);
#endif
        active_.fetch_add(1);
        // A worker slow to read the task may have read a later one's fields, or find
        // a later one open: the generation tells, and either way it stays out.
        if (open_.load() == seen) {
            task(context, index);
        }
        if (active_.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> lock(mutex_);
            finished_.notify_one();
        }
    }
}

std::size_t available_cores() {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int count = CPU_COUNT(&set);
        if (count > 0) {
            return static_cast<std::size_t>(count);
        }
    }
#endif
    const unsigned count = std::thread::hardware_concurrency();
    return count > 0 ? count : 1;
}

namespace {

std::size_t default_threads() {
    if (const char* text = std::getenv("FASTOPTIM_NUM_THREADS")) {
        char* end = nullptr;
        const long value = std::strtol(text, &end, 10);
        if (end != text && *end == '\0' && value >= 1 && value <= 1024) {
            return static_cast<std::size_t>(value);
        }
    }
    return available_cores();
}

std::mutex& pool_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::shared_ptr<thread_pool>& pool_slot() {
    static std::shared_ptr<thread_pool> pool =
        std::make_shared<thread_pool>(default_threads());
    return pool;
}

}  // namespace

std::shared_ptr<thread_pool> shared_pool() {
    std::lock_guard<std::mutex> lock(pool_mutex());
    return pool_slot();
}

void set_num_threads(std::size_t threads) {
    auto pool = std::make_shared<thread_pool>(threads < 1 ? 1 : threads);
    std::lock_guard<std::mutex> lock(pool_mutex());
    pool_slot().swap(pool);
}

}  // namespace fastoptim
