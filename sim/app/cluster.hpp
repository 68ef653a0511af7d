// The processes of an MPI job (`mpirun -n P talentsim ...`), or this process
// alone.
//
// Rank 0 is the manager: it reads the inputs, runs the command, writes every
// file and prints every line, exactly as a single process does. Where the
// command would run replicates on its own threads, it hands them out in
// blocks: each worker rank (1 .. P-1) asks for a block, computes it on its
// own oneTBB threads and sends the results back, then asks again (dynamic
// load balancing); rank 0 computes blocks too. A replicate is a pure
// function of (scenario, seed, replicate), and the consumers of results do
// not depend on the order they arrive in, so the files are bit for bit
// those of a single process.
//
// Built without MPI (the default) or started without mpirun, there is one
// rank and the replicates run on this process's threads as always.
#pragma once

#include <vector>

#include "talentsim/ensemble.hpp"

namespace talentsim::cli {

class Cluster {
 public:
  // Joins the MPI job when started by an MPI launcher (mpirun, srun) in a
  // build with MPI; otherwise a cluster of one. One per process.
  Cluster(int& argc, char**& argv);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool manager() const { return rank_ == 0; }

  // Worker ranks: compute the blocks the manager hands out until it says
  // the command is over. Returns the process exit code.
  int serve();

  // The manager, once the command has returned `code`: ends the job. When
  // a distribution was cut short (an error, a stop by signal) the workers
  // are mid-block, so the job is aborted (MPI_Abort with `code`; Open
  // MPI's mpirun then exits non-zero, not necessarily with `code`);
  // otherwise the workers are told to finish. Returns `code`.
  int finish(int code);

 private:
  friend void run_ensembles_on_cluster(const std::vector<const Model*>&, const EnsembleOptions&,
                                       const TaggedReplicateConsumer&, const ProgressCallback&);
  void distribute(const std::vector<const Model*>& models, const EnsembleOptions& options,
                  const TaggedReplicateConsumer& consume, const ProgressCallback& progress);

  int rank_ = 0, size_ = 1;
  // Used only in a build with MPI (Clang warns about them otherwise).
  [[maybe_unused]] bool mpi_ = false;        // MPI was initialised
  [[maybe_unused]] bool cut_short_ = false;  // a distribution ended by an exception
  [[maybe_unused]] std::uint64_t job_ = 0;   // distributions so far
};

// run_ensembles (ensemble.hpp), spread over the ranks of the process's
// cluster when it has more than one; consume and progress run on rank 0's
// calling thread, in the order results arrive.
void run_ensembles_on_cluster(const std::vector<const Model*>& models,
                              const EnsembleOptions& options,
                              const TaggedReplicateConsumer& consume,
                              const ProgressCallback& progress = {});
// Ranks in the process's cluster: 1 without MPI.
int cluster_size();
// The threads this process should run for work of its own when asked for
// `threads` (0: every core it may use): under mpirun, no more than the
// cores the launcher lets this rank use; alone, `threads` as given.
int local_threads(int threads);

void run_ensemble_on_cluster(const Model& model, const EnsembleOptions& options,
                             const ReplicateConsumer& consume,
                             const ProgressCallback& progress = {});

}  // namespace talentsim::cli
