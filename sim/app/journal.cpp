#include "journal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "talentsim/errors.hpp"
#include "talentsim/results_file.hpp"
#include "talentsim/rng.hpp"
#include "talentsim/version.hpp"

namespace talentsim::cli {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.txt";
constexpr const char* kManifestFirstLine = "talentsim journal 1";

[[noreturn]] void io_failure(const std::string& what, const fs::path& path) {
  throw RunError(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

InputError refusal(const fs::path& file, const std::string& message, const std::string& hint) {
  return InputError(
      std::vector<Diagnostic>{Diagnostic{.file = file.string(), .message = message, .hint = hint}});
}

std::optional<Manifest> read_manifest(const fs::path& journal) {
  std::ifstream in(journal / kManifest);
  std::string first;
  if (!in || !std::getline(in, first) || first != kManifestFirstLine) return std::nullopt;
  Manifest m;
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "fingerprint") m.fingerprint = value;
    if (key == "created") m.created = value;
    if (key == "command") m.command_line = value;
  }
  if (m.fingerprint.empty()) return std::nullopt;
  return m;
}

// Temporary results files that a killed process left beside `destination`
// (named <destination>.tmp.<pid>, the pid no longer running).
void remove_stale_temporaries(const fs::path& destination) {
  const fs::path dir = destination.has_parent_path() ? destination.parent_path() : ".";
  const std::string prefix = destination.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.empty() || pid.size() > 18 || pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH)
      fs::remove(e.path(), ec);
  }
}

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");
extern "C" void on_stop_signal(int signal) {
  g_stop_signal.store(signal);
  std::signal(signal, SIG_DFL);
}

}  // namespace

std::string seal_record(std::string record) {
  put(record, identity_hash(record));
  return record;
}

std::optional<std::string_view> open_record(std::string_view bytes, std::string_view magic) {
  if (bytes.size() < magic.size() + sizeof(std::uint64_t) || bytes.substr(0, magic.size()) != magic)
    return std::nullopt;
  const std::string_view sealed = bytes.substr(0, bytes.size() - sizeof(std::uint64_t));
  std::uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + sealed.size(), sizeof sum);
  if (sum != identity_hash(sealed)) return std::nullopt;
  return sealed.substr(magic.size());
}

void write_atomically(const fs::path& path, const std::string& bytes) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_failure("cannot create", tmp);
  const auto fail = [&](const char* what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    io_failure(what, tmp);
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot write");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    io_failure("cannot write", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    io_failure("cannot rename into", path);
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) io_failure("cannot read", path);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) io_failure("cannot read", path);
  return buf.str();
}

Journal::Journal(const JournalRequest& r) : path_(r.destination.string() + ".partial") {
  const std::string noun = r.noun;
  std::error_code ec;
  const bool kept = fs::exists(path_, ec);
  if (fs::exists(r.destination, ec) && !r.force)
    throw refusal(r.destination, "the results file already exists",
                  kept ? "an interrupted " + noun + " to this file is kept in " + path_.string() +
                             ": to finish it and replace the file, run the same command with "
                             "--resume --force; if the file is that " +
                             noun + " finished (stopped as the file was written), delete " +
                             path_.string()
                       : "pass --force to replace it, or -o to write elsewhere");
  if (kept && !fs::is_directory(path_, ec))
    throw refusal(path_, "this path is needed for the " + noun + "'s journal and is not a folder",
                  "move it away, or choose another results file with -o");
  if (!kept) {
    if (r.resume)
      std::cerr << "note: no interrupted " << noun << " at " << path_.string()
                << "; starting from the beginning\n";
    if (r.destination.has_parent_path()) fs::create_directories(r.destination.parent_path(), ec);
    if (!fs::create_directory(path_, ec) && ec)
      throw RunError(fmt::format("cannot create {}: {}", path_.string(), ec.message()));
  }
  const fs::path lock = path_ / "lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) io_failure("cannot create", lock);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw refusal(path_, "another talentsim process is running this " + noun,
                  "wait for it to finish, or stop it and rerun with --resume");
  }
  try {
    if (kept) {
      const auto found = read_manifest(path_);
      if (!r.resume && !r.force)
        throw refusal(path_, "an interrupted " + noun + " to the same destination is kept here",
                      "pass --resume to finish it, or --force to discard it and start again");
      if (r.resume && !r.force && !found)
        throw refusal(path_ / kManifest,
                      "the interrupted " + noun +
                          "'s manifest is missing or damaged, so its work cannot be trusted",
                      "pass --force to discard it and start again");
      if (r.resume && !r.force && found->fingerprint != r.fingerprint)
        throw refusal(path_,
                      "the interrupted " + noun + " kept here was started with a different " +
                          r.inputs + " or talentsim build, so its work cannot be reused",
                      "restore what changed, or pass --force to discard it and start again");
      if (r.resume && found && found->fingerprint == r.fingerprint) {
        manifest_ = *found;
        resumed_ = true;
      } else {
        // Discard the old work, keeping the lock file we hold.
        for (const auto& e : fs::directory_iterator(path_))
          if (e.path().filename() != "lock") fs::remove_all(e.path());
      }
    }
    if (!resumed_) {
      manifest_ = {r.fingerprint, utc_timestamp(), r.command_line};
      write_atomically(
          path_ / kManifest,
          fmt::format("{}\nfingerprint {}\ncreated {}\ncommand {}\n", kManifestFirstLine,
                      manifest_.fingerprint, manifest_.created, manifest_.command_line));
    }
    remove_stale_temporaries(r.destination);
  } catch (...) {
    ::close(lock_fd_);
    throw;
  }
}

Journal::~Journal() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Journal::remove() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

const char* signal_name(int signal) {
  return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal";
}

const std::atomic<int>& install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  return g_stop_signal;
}

}  // namespace talentsim::cli
