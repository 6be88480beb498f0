// A pool of worker threads that run one task at a time together with the caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace fastoptim {

class thread_pool {
public:
    // threads counts the caller too: a pool of 1 starts no worker.
    explicit thread_pool(std::size_t threads);
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    std::size_t size() const { return workers_.size() + 1; }

    // Runs task(index) for index in [0, count) with count <= size(), index 0 on the
    // calling thread, and returns when every call has. A call made while another
    // thread's run is under way runs every index on its own caller instead of
    // waiting for the pool, so that concurrent callers never block each other.
    template <class Task>
    void run(std::size_t count, Task& task) {
        run_erased(
            count,
            [](void* context, std::size_t index) {
                (*static_cast<Task*>(context))(index);
            },
            &task);
    }

private:
    using erased_task = void (*)(void* context, std::size_t index);

    void run_erased(std::size_t count, erased_task task, void* context);
    void work(std::size_t index);

    std::vector<std::thread> workers_;
    std::mutex busy_;  // held by the caller whose task the workers run

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable finished_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::size_t> unfinished_{0};
    std::size_t sleepers_ = 0;  // guarded by mutex_
    bool stopping_ = false;     // guarded by mutex_

    erased_task task_ = nullptr;
    void* context_ = nullptr;
    std::size_t count_ = 0;
};

// The threads a process may use: its CPU affinity where the OS tells it.
std::size_t available_cores();

// The pool every optimizer step shares, sized by FASTOPTIM_NUM_THREADS or the cores.
// Holding the pointer keeps the pool alive across a concurrent set_num_threads.
std::shared_ptr<thread_pool> shared_pool();

// Replace the shared pool by one of this many threads; runs under way finish on the
// old one.
void set_num_threads(std::size_t threads);

}  // namespace fastoptim
