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

    // Runs task(0) on the calling thread and task(index), 0 < index < count, on each
    // worker that picks the task up before task(0) returns; returns when every call
    // made has. The task must therefore do all its work in whichever calls happen,
    // as a loop taking chunks from a shared counter does. A run started while
    // another thread's is under way runs task(0) alone, so concurrent callers never
    // wait for each other.
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

    // The task on offer: written by the caller while no worker runs one, published
    // by the store to generation_.
    std::atomic<erased_task> task_{nullptr};
    std::atomic<void*> context_{nullptr};
    std::atomic<std::size_t> count_{0};
    std::atomic<std::uint64_t> generation_{0};
    // A worker joins a task only while it is open, and the caller closes it once its
    // own share is done; it then waits for the workers that joined, never for one
    // that has not been scheduled yet.
    std::atomic<std::uint64_t> open_{0};  // the generation open to join, or 0
    std::atomic<std::size_t> active_{0};

    // Sleeping, for workers idle long enough, and waking them.
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable finished_;
    std::atomic<std::size_t> sleepers_{0};
    bool stopping_ = false;  // guarded by mutex_
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
