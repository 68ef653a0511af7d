#include "capacity.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "talentsim/errors.hpp"

namespace talentsim::cli {
namespace fs = std::filesystem;

namespace {

constexpr double kUnknown = std::numeric_limits<double>::infinity();

std::string bytes_text(double b) {
  if (b >= 1e12) return fmt::format("{:.1f} TB", b / 1e12);
  if (b >= 1e9) return fmt::format("{:.1f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  return fmt::format("{:.0f} kB", b / 1e3);
}

double limit_of(int resource) {
  rlimit l{};
  if (::getrlimit(resource, &l) != 0 || l.rlim_cur == RLIM_INFINITY) return kUnknown;
  return static_cast<double>(l.rlim_cur);
}

double memory_available() {
  double available = kUnknown;
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key;
    double kb = 0;
    if (words >> key >> kb && key == "MemAvailable:") available = kb * 1024;
  }
  return std::min({available, limit_of(RLIMIT_AS), limit_of(RLIMIT_DATA)});
}

// Free space for an unprivileged writer in the folder that will hold the file.
double disk_free(const fs::path& destination) {
  fs::path dir = destination.has_parent_path() ? destination.parent_path() : fs::path(".");
  std::error_code ec;
  while (!dir.empty() && !fs::exists(dir, ec) && dir.has_parent_path() && dir != dir.parent_path())
    dir = dir.parent_path();
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return kUnknown;
  return static_cast<double>(v.f_bavail) * static_cast<double>(v.f_frsize);
}

// What an interrupted run already keeps beside the destination.
double journal_size(const fs::path& destination) {
  double n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(destination.string() + ".partial", ec))
    n += static_cast<double>(e.file_size(ec) == static_cast<std::uintmax_t>(-1) ? 0
                                                                                : e.file_size(ec));
  return n;
}

std::int64_t replicates_that_fit(double room, double fixed, double per_replicate) {
  if (per_replicate <= 0 || room <= fixed) return 0;
  return static_cast<std::int64_t>(std::floor((room - fixed) / per_replicate));
}

}  // namespace

void check_capacity(const CapacityRequest& r) {
  const ResourceEstimate& e = r.estimate;
  const double R = static_cast<double>(r.replicates);
  const std::string anyway = "or pass --no-resource-check to try anyway";
  std::vector<Diagnostic> problems;
  const auto fewer = [&](std::int64_t fit) {
    if (fit >= r.replicates) return std::string();
    if (fit < 1) return std::string("even one replicate does not fit; ");
    return fmt::format("at most about {} replicates fit ({}); ", fit,
                       fmt::format(fmt::runtime(r.replicates_option), fit));
  };

  const double memory = memory_available();
  if (e.memory_bytes > memory) {
    const double fixed = e.memory_bytes - R * e.memory_per_replicate;
    problems.push_back(Diagnostic{
        .file = r.input,
        .message = fmt::format("this needs about {} of memory with {} thread{}, more than the {} "
                               "available",
                               bytes_text(e.memory_bytes), r.threads, r.threads == 1 ? "" : "s",
                               bytes_text(memory)),
        .hint = fewer(replicates_that_fit(memory, fixed, e.memory_per_replicate)) +
                "fewer researchers (smaller headcounts), fewer threads (--threads), or a machine "
                "with more memory; " +
                anyway});
  }

  const double need = e.file_bytes + e.journal_bytes - journal_size(r.destination);
  const double free = disk_free(r.destination);
  const std::string folder =
      r.destination.has_parent_path() ? r.destination.parent_path().string() : ".";
  if (need > free) {
    problems.push_back(Diagnostic{
        .file = r.destination.string(),
        .message = fmt::format(
            "the results file would take about {} and the journal of finished work about {} "
            "while it runs, {} in all, more than the {} free in {}",
            bytes_text(e.file_bytes), bytes_text(e.journal_bytes),
            bytes_text(e.file_bytes + e.journal_bytes), bytes_text(free), folder),
        .hint = fewer(replicates_that_fit(free, 0, e.disk_per_replicate)) + r.smaller_output +
                "write elsewhere with -o, " + anyway});
  }
  const double file_limit = limit_of(RLIMIT_FSIZE);
  if (e.file_bytes > file_limit) {
    problems.push_back(Diagnostic{
        .file = r.destination.string(),
        .message = fmt::format("the results file would take about {}, more than this process's "
                               "file size limit of {} (ulimit -f)",
                               bytes_text(e.file_bytes), bytes_text(file_limit)),
        .hint = fewer(replicates_that_fit(file_limit, 0, e.file_per_replicate)) + r.smaller_output +
                "raise the limit (ulimit -f), " + anyway});
  }
  if (!problems.empty()) throw InputError(problems);
}

}  // namespace talentsim::cli
