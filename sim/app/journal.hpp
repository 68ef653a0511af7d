// The journal of an unfinished run, comparison or sweep: a folder beside
// the destination, `<destination>.partial/`, holding a manifest (what is
// being computed, when it started, the command), a lock, and one record
// file per finished piece of work, each written atomically (temporary
// file, fsync, rename) and ending in a checksum. A process stopped at any
// moment, even by kill -9, loses at most the work in progress; --resume
// reuses every intact record.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "talentsim/bytes.hpp"

namespace talentsim::cli {

// A record: `magic`, the body, then a 64-bit checksum of both.
std::string seal_record(std::string record);
// The body of a sealed record, or nullopt if the magic or checksum is wrong.
std::optional<std::string_view> open_record(std::string_view bytes, std::string_view magic);

// Writes `bytes` to `path` so that `path` is either absent or complete.
// Throws RunError naming the file and the system's reason.
void write_atomically(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

struct Manifest {
  std::string fingerprint, created, command_line;
};

// What to do with a journal, from --resume and --force.
struct JournalRequest {
  std::filesystem::path destination;
  std::string fingerprint;   // of everything that decides the results
  std::string command_line;  // of this invocation
  std::string noun;          // "run", "comparison", "sweep": for messages
  std::string inputs;        // what the fingerprint covers, e.g. "scenario, seed"
  bool resume = false;
  bool force = false;
};

// An open journal, locked against other processes while it lives.
class Journal {
 public:
  // Refuses (InputError, with what to do) an existing destination without
  // --force, a journal left by an interrupted process without --resume or
  // --force, and one of a different computation or with a damaged
  // manifest with --resume. Creates the journal, or keeps the one to
  // resume, and removes temporary results files of dead processes.
  explicit Journal(const JournalRequest& request);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Of the first invocation when resuming, else of this one.
  const Manifest& manifest() const { return manifest_; }
  bool resumed() const { return resumed_; }
  std::filesystem::path record(const std::string& name) const { return path_ / name; }
  // After the results file is in place.
  void remove();

 private:
  std::filesystem::path path_;
  Manifest manifest_;
  bool resumed_ = false;
  int lock_fd_ = -1;
};

// For the messages and exit code of a run stopped by a signal.
const char* signal_name(int signal);
inline int signal_exit_code(int signal) { return 128 + signal; }

// The stop request of a signal (SIGINT, SIGTERM): 0 until one arrives.
// A second one ends the process at once.
const std::atomic<int>& install_stop_handlers();

}  // namespace talentsim::cli
