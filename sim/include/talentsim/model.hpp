// The reference model of MODEL.md: a pure function from (scenario, seed,
// replicate) to one replicate's result. No files, threads or argv here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "talentsim/result.hpp"
#include "talentsim/scenario.hpp"

namespace talentsim {

// Who a researcher is, independent of the replicate: the identity that keys
// their random streams, where they start, and their tier.
struct Identity {
  std::uint64_t who = 0;
  int lab = -1;  // at start; -1 = nowhere
  int tier = 0;
  double fixed_reputation = 0;  // > 0 when the scenario fixes it
};

// One replicate's researchers as drawn at `start` (MODEL.md section 3).
struct Population {
  // A researcher's tastes together (a choice reads all five at once).
  struct Tastes {
    double b[kMotiveCount];
  };
  std::vector<double> reputation;
  std::vector<Tastes> tastes;
  std::vector<std::int32_t> tenure;  // whole steps
  // Directed ties "i follows j" (with replacement): ties[tie_begin[i] .. tie_begin[i+1]).
  std::vector<std::int32_t> tie_begin;
  std::vector<std::int32_t> ties;

  std::size_t size() const { return reputation.size(); }
  std::int32_t degree(std::size_t i) const { return tie_begin[i + 1] - tie_begin[i]; }
};

// Receives every move as it happens; lets later layers (questions) answer
// from the run without the model keeping per-step flows. from/to are -1 for
// nowhere.
// Thrown by Model::run when its `cancel` flag is set.
struct ReplicateCancelled : std::exception {
  const char* what() const noexcept override { return "replicate cancelled"; }
};

class MoveObserver {
 public:
  virtual ~MoveObserver() = default;
  virtual void on_move(int step, int researcher, int from, int to, int tier) = 0;
  // At the end of every step, after that step's moves (MODEL.md section 4,
  // step 7): the state then is the one the results record for the step.
  virtual void on_step_end(int /*step*/) {}
};

namespace detail {
class Replicate;
}
class Model;

// Scratch memory of a replicate, kept between replicates so that a run does
// not allocate (and fault in) megabytes per replicate. Not thread-safe: one
// per thread.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

 private:
  friend class Model;
  const Model* model_ = nullptr;
  std::unique_ptr<detail::Replicate> replicate_;
};

// A scenario compiled for simulation; immutable, shared by all replicates.
class Model {
 public:
  explicit Model(Scenario scenario);

  const Scenario& scenario() const { return scenario_; }
  ResultShape shape() const;
  const std::vector<Identity>& identities() const { return identities_; }
  // Index in the population of each named researcher.
  int named_index(int n) const { return named_offset_ + n; }
  // Events dated in step t, as indices into scenario().events, in file order.
  const std::vector<int>& events_at(int t) const { return events_at_step_[t]; }

  Population draw_population(std::uint64_t seed, std::int64_t replicate) const;
  // The same, into `pop`, reusing its memory.
  // If `cancel` becomes true it stops, a block of researchers at a time, by
  // throwing ReplicateCancelled.
  void draw_population(std::uint64_t seed, std::int64_t replicate, Population& pop,
                       const std::atomic<bool>* cancel = nullptr) const;
  // One replicate, forecast questions answered (result.question_value).
  // A workspace, if given, lends its memory from one replicate to the next
  // (one per thread); results do not depend on it. If `cancel` is given
  // and becomes true, the replicate is abandoned at the next step by
  // throwing ReplicateCancelled.
  ReplicateResult run(std::uint64_t seed, std::int64_t replicate, MoveObserver* observer = nullptr,
                      Workspace* workspace = nullptr,
                      const std::atomic<bool>* cancel = nullptr) const;

 private:
  Scenario scenario_;
  std::vector<Identity> identities_;
  int named_offset_ = 0;
  std::vector<std::vector<int>> events_at_step_;
  // For drawing ties: the researchers starting in each lab and in any lab,
  // and each researcher's position in those lists (-1 if starting nowhere).
  std::vector<std::vector<std::int32_t>> members_;
  std::vector<std::int32_t> everyone_, position_in_lab_, position_in_all_;
};

// Whether a question's value is within its bounds (at_least <= v <= at_most).
bool question_outcome(const Question& q, double value);

// Stable identity of the synthetic researcher `ordinal` of (lab, tier), and of
// a named researcher: the same person in a baseline and a what-if.
std::uint64_t synthetic_identity(const std::string& lab, const std::string& tier,
                                 std::int64_t ordinal);
std::uint64_t named_identity(const std::string& name);

}  // namespace talentsim
