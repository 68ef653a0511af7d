#include "talentsim/ensemble.hpp"

#include <tbb/blocked_range.h>
#include <tbb/concurrent_queue.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>

#include "talentsim/errors.hpp"

namespace talentsim {

// One workspace per slot of the arena: threads running at the same time
// have different slots, and the slots are the same from call to call,
// whichever threads fill them.
struct WorkspacePool::Impl {
  std::vector<std::unique_ptr<Workspace>> slots;
  Workspace& slot(int index) {
    auto& w = slots.at(static_cast<std::size_t>(index));
    if (!w) w = std::make_unique<Workspace>();
    return *w;
  }
};
WorkspacePool::WorkspacePool() : impl_(std::make_unique<Impl>()) {}
WorkspacePool::~WorkspacePool() = default;

int hardware_threads() { return std::max(1, tbb::info::default_concurrency()); }

std::vector<std::unique_ptr<Model>> build_models(
    std::size_t count, int threads, const std::function<Scenario(std::size_t)>& scenario_of) {
  std::vector<std::unique_ptr<Model>> models(count);
  std::vector<std::exception_ptr> failed(count);
  tbb::task_arena(threads > 0 ? threads : hardware_threads()).execute([&] {
    tbb::parallel_for(std::size_t{0}, count, [&](std::size_t i) {
      try {
        models[i] = std::make_unique<Model>(scenario_of(i));
      } catch (...) {
        failed[i] = std::current_exception();
      }
    });
  });
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);
  return models;
}

namespace {

struct Finished {
  std::size_t model = 0;
  ReplicateResult result;
  std::exception_ptr error;
};

}  // namespace

void run_ensemble(const Model& model, const EnsembleOptions& options,
                  const ReplicateConsumer& consume, const ProgressCallback& progress) {
  run_ensembles(
      {&model}, options, [&](std::size_t, ReplicateResult&& r) { consume(std::move(r)); },
      progress);
}

std::vector<ReplicateTask> ensemble_tasks(std::size_t models, const EnsembleOptions& options) {
  std::vector<ReplicateTask> tasks;
  const std::int64_t count =
      options.only.empty() ? options.count : static_cast<std::int64_t>(options.only.size());
  if (count <= 0) return tasks;
  tasks.reserve(models * static_cast<std::size_t>(count));
  for (std::size_t m = 0; m < models; ++m)
    for (std::int64_t k = 0; k < count; ++k)
      tasks.push_back({m, options.only.empty() ? options.first + k
                                               : options.only[static_cast<std::size_t>(k)]});
  return tasks;
}

void run_ensembles(const std::vector<const Model*>& models, const EnsembleOptions& options,
                   const TaggedReplicateConsumer& consume, const ProgressCallback& progress) {
  run_tasks(models, ensemble_tasks(models.size(), options), options, consume, progress);
}

void run_tasks(const std::vector<const Model*>& models, const std::vector<ReplicateTask>& tasks,
               const EnsembleOptions& options, const TaggedReplicateConsumer& consume,
               const ProgressCallback& progress) {
  const auto total = static_cast<std::int64_t>(tasks.size());
  if (total == 0) return;
  for (const ReplicateTask& t : tasks)
    if (t.model >= models.size()) throw InternalError("run_tasks: a task names no model");
  const int threads = options.threads > 0 ? options.threads : hardware_threads();
  tbb::concurrent_bounded_queue<Finished> queue;
  queue.set_capacity(2 * threads + 2);
  std::atomic<bool> cancelled{false};
  std::atomic<bool> producing{true};

  // The caller's pool, or one for this call.
  std::optional<WorkspacePool> own_pool;
  if (options.workspaces == nullptr) own_pool.emplace();
  WorkspacePool::Impl& workspaces =
      (options.workspaces != nullptr ? *options.workspaces : *own_pool).impl();
  if (workspaces.slots.size() < static_cast<std::size_t>(threads))
    workspaces.slots.resize(static_cast<std::size_t>(threads));
  std::thread producer([&] {
    try {
      tbb::task_arena arena(threads);
      arena.execute([&] {
        tbb::parallel_for(
            tbb::blocked_range<std::int64_t>(0, total, 1),
            [&](const tbb::blocked_range<std::int64_t>& range) {
              for (auto i = range.begin(); i != range.end(); ++i) {
                if (cancelled.load(std::memory_order_relaxed)) return;
                Finished f;
                const ReplicateTask& task = tasks[static_cast<std::size_t>(i)];
                f.model = task.model;
                try {
                  f.result = models[f.model]->run(
                      options.seed, task.replicate, nullptr,
                      &workspaces.slot(tbb::this_task_arena::current_thread_index()), &cancelled);
                } catch (const ReplicateCancelled&) {
                  return;  // the consumer stopped; nothing to hand over
                } catch (...) {
                  f.error = std::current_exception();
                  cancelled = true;
                }
                queue.push(std::move(f));
              }
            },
            tbb::simple_partitioner());
      });
    } catch (...) {
      Finished f;
      f.error = std::current_exception();
      cancelled = true;
      queue.push(std::move(f));
    }
    producing = false;
  });

  std::exception_ptr failure;
  std::int64_t done = 0;
  const auto stopped = [&] {
    return options.stop != nullptr && options.stop->load(std::memory_order_relaxed) != 0;
  };
  while (done < total && !failure) {
    Finished f;
    if (options.stop == nullptr) {
      queue.pop(f);
    } else {
      // Waits in short naps, so that a stop request is seen within
      // milliseconds even while every thread is inside a long replicate.
      while (!queue.try_pop(f) && !stopped())
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (stopped()) {
        failure = std::make_exception_ptr(EnsembleStopped{});
        break;
      }
    }
    if (f.error) {
      failure = f.error;
      break;
    }
    try {
      consume(f.model, std::move(f.result));
      ++done;
      if (progress) progress(done, total);
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (failure) {
    cancelled = true;
    // Drain so that producers blocked on a full queue can finish.
    Finished f;
    while (producing.load()) {
      if (!queue.try_pop(f)) std::this_thread::yield();
    }
  }
  producer.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace talentsim
