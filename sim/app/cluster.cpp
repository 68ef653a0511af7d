#include "cluster.hpp"

#include <algorithm>
#include <cstdlib>

#if TALENTSIM_MPI
#include <fmt/format.h>
#include <mpi.h>
#include <sched.h>
#include <tbb/concurrent_queue.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "talentsim/bytes.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/version.hpp"
#include "talentsim/wire.hpp"
#endif

namespace talentsim::cli {

namespace {
Cluster* g_cluster = nullptr;
}  // namespace

void run_ensembles_on_cluster(const std::vector<const Model*>& models,
                              const EnsembleOptions& options,
                              const TaggedReplicateConsumer& consume,
                              const ProgressCallback& progress) {
  if (g_cluster == nullptr || g_cluster->size() == 1)
    run_ensembles(models, options, consume, progress);
  else
    g_cluster->distribute(models, options, consume, progress);
}

int cluster_size() { return g_cluster == nullptr ? 1 : g_cluster->size(); }

void run_ensemble_on_cluster(const Model& model, const EnsembleOptions& options,
                             const ReplicateConsumer& consume, const ProgressCallback& progress) {
  run_ensembles_on_cluster(
      {&model}, options, [&](std::size_t, ReplicateResult&& r) { consume(std::move(r)); },
      progress);
}

#if !TALENTSIM_MPI

Cluster::Cluster(int&, char**&) { g_cluster = this; }
Cluster::~Cluster() { g_cluster = nullptr; }
int Cluster::serve() { return 0; }
int Cluster::finish(int code) { return code; }
void Cluster::distribute(const std::vector<const Model*>& models, const EnsembleOptions& options,
                         const TaggedReplicateConsumer& consume, const ProgressCallback& progress) {
  run_ensembles(models, options, consume, progress);
}
int local_threads(int threads) { return threads; }

#else

namespace {

// Messages; each body starts with the job number it belongs to (kStop has
// no body).
enum Tag : int {
  kJob = 1,  // manager -> worker: models, seed, threads, the task list
  kReady,    // worker -> manager: give me a block
  kBlock,    // manager -> worker: tasks [begin, end)
  kNoMore,   // manager -> worker: the job has no blocks left
  kResult,   // worker -> manager: the model's index and one replicate's result
  kFailed,   // worker -> manager: what went wrong
  kStop,     // manager -> worker: the command is over
};

// Started by an MPI launcher? Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE;
// Slurm's srun and other PMI launchers set PMIX_RANK or PMI_RANK. Without
// one, the process runs alone and does not initialise MPI at all.
bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

// MPI counts bytes in an int.
int message_size(const std::string& bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    throw RunError(
        fmt::format("a message of {} bytes is more than MPI can send at once; run "
                    "fewer replicates or sweep points per command",
                    bytes.size()));
  return static_cast<int>(bytes.size());
}

void send(const std::string& bytes, int to, int tag) {
  MPI_Send(bytes.data(), message_size(bytes), MPI_BYTE, to, tag, MPI_COMM_WORLD);
}

// Messages sent without waiting, each kept until MPI is done with it.
class Sending {
 public:
  Sending() = default;
  Sending(const Sending&) = delete;
  Sending& operator=(const Sending&) = delete;
  ~Sending() { finish(); }
  void start(std::string bytes, int to, int tag) {
    const int size = message_size(bytes);
    // Done ones first: their buffers can go.
    while (!pending_.empty()) {
      int done = 0;
      MPI_Test(&pending_.front().request, &done, MPI_STATUS_IGNORE);
      if (!done) break;
      pending_.pop_front();
    }
    pending_.push_back({std::move(bytes), MPI_REQUEST_NULL});
    Pending& p = pending_.back();
    MPI_Isend(p.bytes.data(), size, MPI_BYTE, to, tag, MPI_COMM_WORLD, &p.request);
  }
  void finish() {
    for (Pending& p : pending_) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
    pending_.clear();
  }

 private:
  struct Pending {
    std::string bytes;
    MPI_Request request;
  };
  std::deque<Pending> pending_;  // a deque: buffers stay where they are
};

struct Message {
  int source = 0, tag = 0;
  std::string bytes;
};

// The next message from `source` (MPI_ANY_SOURCE: anyone); without `wait`,
// nullopt when none has arrived.
std::optional<Message> receive(int source, bool wait) {
  MPI_Status status;
  if (wait) {
    MPI_Probe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
  } else {
    int arrived = 0;
    MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
    if (!arrived) return std::nullopt;
  }
  int n = 0;
  MPI_Get_count(&status, MPI_BYTE, &n);
  Message m{status.MPI_SOURCE, status.MPI_TAG, std::string(static_cast<std::size_t>(n), '\0')};
  MPI_Recv(m.bytes.data(), n, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return m;
}

std::string with_job(std::uint64_t job, std::string_view rest = {}) {
  std::string out;
  put(out, job);
  out += rest;
  return out;
}

struct Job {
  std::uint64_t id = 0;
  std::int32_t threads = 0;
  std::uint64_t seed = 0;
  std::vector<std::unique_ptr<Model> > models;
  std::vector<ReplicateTask> tasks;
};

std::string encode_job(std::uint64_t id, const EnsembleOptions& options,
                       const std::vector<const Model*>& models,
                       const std::vector<ReplicateTask>& tasks) {
  std::string out = with_job(id);
  put(out, static_cast<std::int32_t>(options.threads));
  put(out, options.seed);
  put(out, static_cast<std::uint64_t>(models.size()));
  for (const Model* m : models) {
    const std::string s = encode_scenario(m->scenario());
    put(out, static_cast<std::uint64_t>(s.size()));
    out += s;
  }
  put(out, static_cast<std::uint64_t>(tasks.size()));
  put(out, tasks.data(), tasks.size());
  return out;
}

Job decode_job(std::string_view bytes) {
  RecordReader in(bytes);
  Job job;
  std::uint64_t models = 0, tasks = 0;
  bool ok = in.get(job.id) && in.get(job.threads) && in.get(job.seed) && in.get(models);
  for (std::uint64_t m = 0; ok && m < models; ++m) {
    std::uint64_t n = 0;
    std::string s;
    ok = in.get(n) && n <= in.left();
    if (!ok) break;
    s.resize(n);
    ok = in.get(s.data(), n);
    if (ok) job.models.push_back(std::make_unique<Model>(decode_scenario(s)));
  }
  ok = ok && in.get(tasks) && tasks <= in.left() / sizeof(ReplicateTask);
  if (ok) {
    job.tasks.resize(tasks);
    ok = in.get(job.tasks.data(), tasks) && in.at_end();
  }
  if (!ok) throw InternalError("cluster: a job message is cut short or malformed");
  return job;
}

// What identifies the build: every rank must run the same one, since
// messages carry values as their bytes and results must be the same bits.
std::string build_id() {
  return fmt::format("talentsim {} ({}), results format {}, {}-bit", kSoftwareVersion, kGitCommit,
                     kFileFormatVersion, 8 * sizeof(void*));
}

// The threads this rank runs when asked for `threads` (0: every core it
// may use). Launchers pin ranks to cores (Open MPI's mpirun binds each rank
// to one core when there are at most 2 ranks, to a socket otherwise): more
// threads than the rank may use would only take turns on its cores (and
// oneTBB would warn at every block), so they are cut to what it may use.
// Says so once per rank, naming the fix.
int usable_threads(int rank, int threads) {
  static bool said = false;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return threads;
  const int allowed = CPU_COUNT(&set);
  const int online = static_cast<int>(std::thread::hardware_concurrency());
  if (threads > allowed) {
    if (!std::exchange(said, true))
      std::cerr << fmt::format(
          "talentsim: warning: rank {} may use only {} of this machine's {} cores (the MPI "
          "launcher bound it), so it runs {}, not {}; start mpirun with --bind-to none, or "
          "srun with --cpus-per-task={}\n",
          rank, allowed, online, allowed == 1 ? "1 thread" : fmt::format("{} threads", allowed),
          threads, threads);
    return allowed;
  }
  if (threads == 0 && allowed < online && !std::exchange(said, true))
    std::cerr << fmt::format(
        "talentsim: note: rank {} uses {} of this machine's {} cores (the MPI launcher bound "
        "it); for every core, start mpirun with --bind-to none, or srun with --cpus-per-task\n",
        rank, allowed, online);
  return threads;
}

}  // namespace

int local_threads(int threads) {
  return cluster_size() > 1 ? usable_threads(g_cluster->rank(), threads) : threads;
}

Cluster::Cluster(int& argc, char**& argv) {
  g_cluster = this;
  if (!started_by_launcher()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // Only the calling thread makes MPI calls (FUNNELED); oneTBB's threads
  // never do.
  if (provided < MPI_THREAD_FUNNELED) {
    if (rank_ == 0)
      std::cerr << "talentsim: error: this MPI library does not support threads "
                   "(MPI_THREAD_FUNNELED)\n";
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  char mine[128] = {}, manager[128] = {};
  std::snprintf(mine, sizeof mine, "%s", build_id().c_str());
  std::memcpy(manager, mine, sizeof mine);
  MPI_Bcast(manager, sizeof manager, MPI_CHAR, 0, MPI_COMM_WORLD);
  int same = std::memcmp(mine, manager, sizeof mine) == 0, all_same = 0;
  MPI_Allreduce(&same, &all_same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!all_same) {
    if (!same)
      std::cerr << fmt::format(
          "talentsim: error: rank {} runs {}, rank 0 runs {}\n  start every rank from the same "
          "build of talentsim\n",
          rank_, mine, manager);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
}

Cluster::~Cluster() {
  g_cluster = nullptr;
  if (mpi_) MPI_Finalize();
}

int Cluster::finish(int code) {
  if (!mpi_ || rank_ != 0) return code;
  if (cut_short_) {
    // Workers are in the middle of blocks that nobody will collect; what
    // was finished is in the journal, for --resume.
    std::cout.flush();
    std::cerr.flush();
    MPI_Abort(MPI_COMM_WORLD, code != 0 ? code : 1);
  }
  for (int w = 1; w < size_; ++w) send({}, w, kStop);
  return code;
}

int Cluster::serve() {
  // A stop (Ctrl-C, a batch system's SIGTERM) reaches every rank. Rank 0
  // stops cleanly and keeps what is finished; a worker must not die first,
  // or mpirun kills rank 0 before it has. mpirun's SIGKILL still ends it.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  for (;;) {
    Message m = *receive(0, true);
    if (m.tag == kStop) return 0;
    if (m.tag != kJob) continue;  // not addressed to an idle worker
    std::uint64_t id = 0;
    try {
      Job job = decode_job(m.bytes);
      id = job.id;
      std::vector<const Model*> models;
      for (const auto& p : job.models) models.push_back(p.get());
      // The threads' scratch memory is kept from block to block.
      WorkspacePool pool;
      const EnsembleOptions options{
          .seed = job.seed, .threads = usable_threads(rank_, job.threads), .workspaces = &pool};
      send(with_job(id), 0, kReady);
      for (;;) {
        m = *receive(0, true);
        if (m.tag == kStop) return 0;
        if (m.tag == kNoMore) break;
        if (m.tag != kBlock) continue;
        RecordReader in(m.bytes);
        std::uint64_t block_job = 0, begin = 0, end = 0;
        if (!in.get(block_job) || !in.get(begin) || !in.get(end) || block_job != id ||
            begin > end || end > job.tasks.size())
          throw InternalError("cluster: a block message is malformed");
        const std::vector<ReplicateTask> block(
            job.tasks.begin() + static_cast<std::ptrdiff_t>(begin),
            job.tasks.begin() + static_cast<std::ptrdiff_t>(end));
        // Results go out without waiting for rank 0 to take each one (a
        // blocking send of a large message would spin on this core until
        // it does); the block waits for all of them once, at its end.
        Sending sending;
        run_tasks(models, block, options, [&](std::size_t model, ReplicateResult&& r) {
          // The task's index in the job, by which rank 0 checks it off.
          std::uint64_t index = begin;
          while (index < end &&
                 (job.tasks[index].model != model || job.tasks[index].replicate != r.replicate))
            ++index;
          std::string out = with_job(id);
          put(out, index);
          append_result(r, out);
          sending.start(std::move(out), 0, kResult);
        });
        sending.finish();
        send(with_job(id), 0, kReady);
      }
    } catch (const std::exception& e) {
      // The manager ends the job; wait for that.
      send(with_job(id, e.what()), 0, kFailed);
    }
  }
}

void Cluster::distribute(const std::vector<const Model*>& models, const EnsembleOptions& options,
                         const TaggedReplicateConsumer& consume, const ProgressCallback& progress) {
  // Workers of a distribution that was cut short are still in its blocks:
  // the job can only end (finish() aborts it), not go on.
  if (cut_short_) throw InternalError("cluster: a distribution after one was cut short");
  const std::vector<ReplicateTask> tasks = ensemble_tasks(models.size(), options);
  const std::size_t total = tasks.size();
  if (total == 0) return;
  const int threads = usable_threads(0, options.threads);
  const std::uint64_t id = ++job_;
  const int workers = size_ - 1;
  cut_short_ = true;  // until every result is in and every worker is idle
  {
    const std::string job = encode_job(id, options, models, tasks);
    for (int w = 1; w <= workers; ++w) send(job, w, kJob);
  }
  // Blocks of up to 32 replicates, about 4 per rank, taken in order by
  // whoever is free: contiguous replicates finish close together, so the
  // results writer's rows fill and leave memory steadily.
  const std::size_t block =
      std::clamp<std::size_t>(total / (4 * static_cast<std::size_t>(size_)), 1, 32);
  std::atomic<std::size_t> next{0};
  const auto take = [&]() -> std::optional<std::pair<std::size_t, std::size_t> > {
    const std::size_t begin = next.fetch_add(block);
    if (begin >= total) return std::nullopt;
    return std::pair{begin, std::min(total, begin + block)};
  };
  // Which worker was handed each task and which results are in: a result
  // for a task the sender was not given, or a second one, is refused.
  std::vector<int> given(total, -1);
  std::vector<char> arrived(total, 0);

  // Rank 0's own blocks run on a thread of their own, so that this thread
  // stays free to answer the workers and to consume results. At most a few
  // of its results wait here, as in the single-process runner.
  struct Local {
    std::size_t model = 0;
    ReplicateResult result;
    std::exception_ptr error;
  };
  tbb::concurrent_bounded_queue<Local> local;
  local.set_capacity(2 * (threads > 0 ? threads : hardware_threads()) + 2);
  std::atomic<int> cancel{0};
  std::atomic<bool> own_done{false};
  WorkspacePool pool;
  std::thread own([&] {
    try {
      while (const auto b = take()) {
        const std::vector<ReplicateTask> mine(
            tasks.begin() + static_cast<std::ptrdiff_t>(b->first),
            tasks.begin() + static_cast<std::ptrdiff_t>(b->second));
        run_tasks(
            models, mine,
            EnsembleOptions{
                .seed = options.seed, .threads = threads, .stop = &cancel, .workspaces = &pool},
            [&](std::size_t m, ReplicateResult&& r) {
              local.push({m, std::move(r), {}});
            });
      }
    } catch (const EnsembleStopped&) {
      // cancelled by stop_own
    } catch (...) {
      local.push({0, {}, std::current_exception()});
    }
    own_done = true;
  });
  // Ends rank 0's own work, which may be waiting to push into a full queue.
  const auto stop_own = [&] {
    cancel = 1;
    Local f;
    while (!own_done.load()) {
      if (!local.try_pop(f)) std::this_thread::yield();
    }
    own.join();
  };

  std::size_t done = 0;
  int retired = 0;  // workers told that no blocks are left
  const auto consumed = [&](std::size_t model, ReplicateResult&& r) {
    consume(model, std::move(r));
    ++done;
    if (progress) progress(static_cast<std::int64_t>(done), static_cast<std::int64_t>(total));
  };
  const auto handle = [&](const Message& m) {
    if (m.tag == kFailed)
      throw RunError(fmt::format("rank {}: {}", m.source,
                                 std::string_view(m.bytes).substr(sizeof(std::uint64_t))));
    RecordReader in(m.bytes);
    std::uint64_t job = 0;
    if (!in.get(job) || job != id)
      throw InternalError(fmt::format("cluster: rank {} answered another job", m.source));
    if (m.tag == kReady) {
      if (const auto b = take()) {
        std::fill(given.begin() + static_cast<std::ptrdiff_t>(b->first),
                  given.begin() + static_cast<std::ptrdiff_t>(b->second), m.source);
        std::string out = with_job(id);
        put(out, static_cast<std::uint64_t>(b->first));
        put(out, static_cast<std::uint64_t>(b->second));
        send(out, m.source, kBlock);
      } else {
        send(with_job(id), m.source, kNoMore);
        ++retired;
      }
    } else if (m.tag == kResult) {
      std::uint64_t index = 0;
      if (!in.get(index) || index >= total || given[index] != m.source || arrived[index])
        throw InternalError(
            fmt::format("cluster: rank {} sent a result it was not asked for", m.source));
      const ReplicateTask& task = tasks[index];
      ReplicateResult r =
          decode_result(std::string_view(m.bytes).substr(2 * sizeof(std::uint64_t)));
      if (r.replicate != task.replicate || r.shape != models[task.model]->shape())
        throw InternalError(
            fmt::format("cluster: rank {} sent a result that does not fit its task", m.source));
      arrived[index] = 1;
      consumed(task.model, std::move(r));
    }
  };
  try {
    while (done < total || retired < workers) {
      bool busy = false;
      // Every waiting message first, so that no worker waits for a block.
      while (const auto m = receive(MPI_ANY_SOURCE, false)) {
        busy = true;
        handle(*m);
      }
      Local f;
      while (local.try_pop(f)) {
        busy = true;
        if (f.error) std::rethrow_exception(f.error);
        consumed(f.model, std::move(f.result));
      }
      if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed) != 0)
        throw EnsembleStopped{};
      if (!busy) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  } catch (...) {
    stop_own();
    throw;
  }
  stop_own();
  cut_short_ = false;
}

#endif

}  // namespace talentsim::cli
