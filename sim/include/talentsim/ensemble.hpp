// Monte Carlo over replicates on oneTBB. Replicate r is a pure function of
// (model, seed, r), so results do not depend on thread count or on the order
// in which replicates finish; the consumer sees them in completion order.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "talentsim/model.hpp"

namespace talentsim {

// Per-thread scratch memory (Workspace) that outlives one call of the
// runners below, for a caller that runs many small batches of the same
// models (an MPI worker's blocks): replicates then do not allocate and
// fault in their megabytes afresh for every batch.
class WorkspacePool {
 public:
  WorkspacePool();
  ~WorkspacePool();
  WorkspacePool(const WorkspacePool&) = delete;
  WorkspacePool& operator=(const WorkspacePool&) = delete;
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct EnsembleOptions {
  std::int64_t first = 0;  // replicates first .. first + count - 1
  std::int64_t count = 0;
  // When not empty, these replicates instead of first .. first + count - 1
  // (what an interrupted run still has to do).
  std::vector<std::int64_t> only;
  std::uint64_t seed = 1;
  int threads = 0;  // 0: every core
  // When given and it becomes nonzero (a signal handler may set it), the
  // replicates in progress are abandoned within a step and the ensemble
  // throws EnsembleStopped; those already consumed stay consumed.
  const std::atomic<int>* stop = nullptr;
  // When given, the threads' scratch memory comes from (and stays in) it.
  WorkspacePool* workspaces = nullptr;
};

struct EnsembleStopped : std::exception {
  const char* what() const noexcept override { return "ensemble stopped"; }
};

// Called on the calling thread, one replicate at a time; may throw, which
// stops the ensemble and propagates.
using ReplicateConsumer = std::function<void(ReplicateResult&&)>;
using ProgressCallback = std::function<void(std::int64_t done, std::int64_t total)>;

// Runs the replicates in parallel. At most a few finished replicates wait
// for the consumer at any time (bounded queue), so memory does not grow with
// the number of replicates.
void run_ensemble(const Model& model, const EnsembleOptions& options,
                  const ReplicateConsumer& consume, const ProgressCallback& progress = {});

// Several models' replicates as one pool of work: replicates first ..
// first + count - 1 of every model, all on options.seed, so threads move on
// to the next model's replicates instead of waiting for the last of one.
// `consume` gets the model's index with each result; progress counts all.
using TaggedReplicateConsumer = std::function<void(std::size_t model, ReplicateResult&&)>;
void run_ensembles(const std::vector<const Model*>& models, const EnsembleOptions& options,
                   const TaggedReplicateConsumer& consume, const ProgressCallback& progress = {});

// One replicate of one of several models: the unit of work that the
// runners above are made of, and that a cluster hands out in blocks.
struct ReplicateTask {
  std::size_t model = 0;
  std::int64_t replicate = 0;
};
// Runs exactly `tasks` (options.first, count and only are not used) on
// options.seed, options.threads and options.stop, as run_ensembles does.
void run_tasks(const std::vector<const Model*>& models, const std::vector<ReplicateTask>& tasks,
               const EnsembleOptions& options, const TaggedReplicateConsumer& consume,
               const ProgressCallback& progress = {});

// The tasks of run_ensembles: replicates first .. first + count - 1 (or
// `only`) of model 0, then the same of model 1, and so on.
std::vector<ReplicateTask> ensemble_tasks(std::size_t models, const EnsembleOptions& options);

int hardware_threads();

// Models of scenario_of(0) .. scenario_of(count - 1), in that order, built
// on up to `threads` threads (0: every core): parsing and checking many
// sweep points' or proposals' scenarios is then not a serial stage before
// their replicates. If scenario_of throws for some i, the exception of the
// lowest such i is rethrown, whatever the threads did first.
std::vector<std::unique_ptr<Model>> build_models(
    std::size_t count, int threads, const std::function<Scenario(std::size_t)>& scenario_of);

}  // namespace talentsim
