// The calibration results file (see talentsim/calibration_file.hpp).
//
// Dimensions (coordinate variables, HDF5 dimension scales): generation,
// particle, parameter (paths as in --set), target (ids). Variables:
//   epsilon, proposals, simulations, acceptance, ess          (generation)
//   theta (generation, particle, parameter), weight and distance
//   (generation, particle), simulated (generation, particle, target);
//   prior, low, high, posterior_{mean,sd,low,median,high}, estimate (parameter);
//   target_value, target_tolerance, target_source, check_{value,se,low,high,defined} (target).
// Root attributes: file_type, versions, name, the calibration file, the base
// scenario and the calibrated scenario as texts, seed, replicates, status.
#include "talentsim/calibration_file.hpp"

#include <fmt/format.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include "hdf5_support.hpp"
#include "results_layout.hpp"
#include "talentsim/errors.hpp"
#include "talentsim/version.hpp"

namespace talentsim {
namespace fs = std::filesystem;
using h5::Handle;

namespace {

class Writer {
 public:
  Writer(hid_t file, std::string where) : file_(file), where_(std::move(where)) {}

  void coordinate(const char* name, std::size_t length, const std::vector<std::string>* labels,
                  const char* long_name, const char* description) {
    const std::string context = fmt::format("cannot write coordinate '{}' to {}", name, where_);
    Handle d;
    if (labels) {
      Handle type = h5::variable_string_type();
      d = h5::create_dataset(file_, name, type.get(), {hsize_t(length)}, {}, context);
      h5::write_labels(d.get(), *labels, context);
    } else {
      d = h5::create_dataset(file_, name, H5T_STD_I64LE, {hsize_t(length)}, {}, context);
      std::vector<std::int64_t> v(length);
      for (std::size_t i = 0; i < length; ++i) v[i] = std::int64_t(i);
      h5::write_all(d.get(), H5T_NATIVE_INT64, v.data(), v.size(), context);
    }
    h5::check(H5DSset_scale(d.get(), name), context);
    h5::write_string_attribute(d.get(), "long_name", long_name);
    h5::write_string_attribute(d.get(), "description", description);
    lengths_.push_back({name, length});
    scales_.push_back(std::move(d));
  }

  template <class T>
  void variable(const std::string& name, const std::vector<const char*>& dims,
                const std::vector<T>& data, const std::string& description) {
    const std::string context = fmt::format("cannot write variable '{}' to {}", name, where_);
    std::vector<hsize_t> extent;
    std::size_t count = 1;
    for (const char* dim : dims) {
      extent.push_back(hsize_t(length(dim)));
      count *= length(dim);
    }
    if (data.size() != count)
      throw InternalError(
          fmt::format("calibration file: {} has {} values, expected {}", name, data.size(), count));
    Handle d;
    if constexpr (std::is_same_v<T, std::string>) {
      Handle type = h5::variable_string_type();
      d = h5::create_dataset(file_, name.c_str(), type.get(), extent, {}, context);
      h5::write_labels(d.get(), data, context);
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      d = h5::create_dataset(file_, name.c_str(), H5T_STD_I64LE, extent, {}, context);
      h5::write_all(d.get(), H5T_NATIVE_INT64, data.data(), data.size(), context);
    } else {
      d = h5::create_dataset(file_, name.c_str(), H5T_IEEE_F64LE, extent, {}, context);
      h5::write_all(d.get(), H5T_NATIVE_DOUBLE, data.data(), data.size(), context);
    }
    for (std::size_t axis = 0; axis < dims.size(); ++axis)
      h5::check(H5DSattach_scale(d.get(), scale(dims[axis]), unsigned(axis)), context);
    h5::write_string_attribute(d.get(), "description", description);
  }

 private:
  std::size_t length(const char* dim) const {
    for (const auto& [n, l] : lengths_)
      if (n == dim) return l;
    throw InternalError(fmt::format("calibration file: no dimension {}", dim));
  }
  hid_t scale(const char* dim) const {
    for (std::size_t i = 0; i < lengths_.size(); ++i)
      if (lengths_[i].first == dim) return scales_[i].get();
    throw InternalError(fmt::format("calibration file: no dimension {}", dim));
  }

  hid_t file_;
  std::string where_;
  std::vector<std::pair<std::string, std::size_t>> lengths_;
  std::vector<Handle> scales_;
};

// The fit of the calibrated scenario to targets or predictions (`what`):
// <prefix>_value, _se, _low, _high and _defined on dimension `dim`.
void write_checks(Writer& w, const std::string& prefix, const char* dim,
                  const std::vector<TargetCheck>& checks, const std::string& what) {
  std::vector<double> value, se, low, high;
  std::vector<std::int64_t> defined;
  for (const TargetCheck& c : checks) {
    value.push_back(c.value);
    se.push_back(c.se);
    low.push_back(c.low);
    high.push_back(c.high);
    defined.push_back(c.defined);
  }
  w.variable(
      prefix + "_value", {dim}, value,
      "the calibrated scenario's value of the " + what + ", pooled over the check replicates");
  w.variable(prefix + "_se", {dim}, se, "Monte Carlo standard error of " + prefix + "_value");
  w.variable(prefix + "_low", {dim}, low,
             "2.5% quantile of the " + what +
                 " over the check replicates (one replicate = one possible world)");
  w.variable(prefix + "_high", {dim}, high,
             "97.5% quantile of the " + what + " over the check replicates");
  w.variable(prefix + "_defined", {dim}, defined,
             "check replicates in which the " + what + " is defined (its denominator is not 0)");
}

void write_contents(hid_t file, const CalibrationRecord& rec, const std::string& where) {
  const hid_t root = file;
  h5::write_string_attribute(root, "title", "talentsim calibration");
  h5::write_string_attribute(root, "Conventions", layout::kConventions);
  h5::write_string_attribute(root, "file_type", "talentsim-calibration");
  h5::write_int_attribute(root, "file_format_version", kFileFormatVersion, H5T_STD_I32LE);
  h5::write_string_attribute(root, "software_version", kSoftwareVersion);
  h5::write_string_attribute(root, "git_commit", kGitCommit);
  h5::write_string_attribute(root, "created", rec.created);
  h5::write_string_attribute(root, "command_line", rec.command_line);
  h5::write_string_attribute(root, "name", rec.name);
  h5::write_string_attribute(root, "method", "ABC-SMC");
  h5::write_string_attribute(root, "status", rec.stop_reason);
  h5::write_int_attribute(root, "converged", rec.converged ? 1 : 0, H5T_STD_I32LE);
  h5::write_uint64_attribute(root, "seed", rec.seed);
  h5::write_int_attribute(root, "replicates", rec.replicates, H5T_STD_I64LE);
  h5::write_int_attribute(root, "check_replicates", rec.check_replicates, H5T_STD_I64LE);
  h5::write_string_attribute(root, "calibration", rec.calibration_text);
  h5::write_string_attribute(root, "scenario_name", rec.base_name);
  h5::write_string_attribute(root, "scenario", rec.base_text);
  h5::write_string_attribute(root, "calibrated_scenario", rec.calibrated_text);
  h5::write_string_attribute(root, "report", rec.report);

  const std::size_t G = rec.generations.size(), P = rec.parameters.size(),
                    T = rec.target_ids.size();
  const std::size_t N = G > 0 ? rec.generations.front().weight.size() : 0;
  std::vector<std::string> paths;
  for (const auto& p : rec.parameters) paths.push_back(p.path);
  Writer w(file, where);
  w.coordinate("generation", G, nullptr, "generation",
               "ABC-SMC generation: 0 is drawn from the prior, each later one at a smaller "
               "tolerance");
  w.coordinate("particle", N, nullptr, "particle", "accepted parameter vector of a generation");
  w.coordinate("parameter", P, &paths, "parameter",
               "the calibrated scenario value, named by its path as in --set");
  w.coordinate("target", T, &rec.target_ids, "target", "published figure the model is fitted to");
  w.coordinate("prediction", rec.prediction_ids.size(), &rec.prediction_ids, "prediction",
               "question answered by the calibrated scenario but not fitted (out of sample)");

  std::vector<double> eps, acc, ess, theta, weight, distance, simulated;
  std::vector<std::int64_t> proposals, simulations;
  for (const auto& g : rec.generations) {
    eps.push_back(g.epsilon);
    acc.push_back(g.acceptance());
    ess.push_back(effective_sample_size(g));
    proposals.push_back(g.proposals);
    simulations.push_back(g.simulations);
    theta.insert(theta.end(), g.theta.begin(), g.theta.end());
    weight.insert(weight.end(), g.weight.begin(), g.weight.end());
    distance.insert(distance.end(), g.distance.begin(), g.distance.end());
    simulated.insert(simulated.end(), g.simulated.begin(), g.simulated.end());
  }
  w.variable("epsilon", {"generation"}, eps,
             "tolerance of the generation: a particle was accepted when the root mean square of "
             "(simulated - value) / tolerance over the targets was at most this (inf: none)");
  w.variable("proposals", {"generation"}, proposals,
             "parameter vectors drawn, including those outside the bounds");
  w.variable("simulations", {"generation"}, simulations, "parameter vectors simulated");
  w.variable("acceptance", {"generation"}, acc, "particles / simulations");
  w.variable("ess", {"generation"}, ess, "effective sample size, 1 / sum of squared weights");
  w.variable("theta", {"generation", "particle", "parameter"}, theta, "the particle's values");
  w.variable("weight", {"generation", "particle"}, weight,
             "importance weight of the particle; they sum to 1 in each generation");
  w.variable("distance", {"generation", "particle"}, distance,
             "root mean square of (simulated - value) / tolerance over the targets");
  w.variable("simulated", {"generation", "particle", "target"}, simulated,
             "the target as simulated at the particle: pooled over the calibration's replicates");

  std::vector<std::string> prior;
  std::vector<double> low, high, mean, sd, plow, median, phigh;
  for (std::size_t p = 0; p < P; ++p) {
    const auto& par = rec.parameters[p];
    prior.push_back(par.prior == PriorKind::Normal
                        ? fmt::format("normal(mean {}, sd {})", par.mean, par.sd)
                        : prior_name(par.prior));
    low.push_back(par.low);
    high.push_back(par.high);
    const PosteriorSummary s = p < rec.posterior.size() ? rec.posterior[p] : PosteriorSummary{};
    mean.push_back(s.mean);
    sd.push_back(s.sd);
    plow.push_back(s.low);
    median.push_back(s.median);
    phigh.push_back(s.high);
  }
  w.variable("prior", {"parameter"}, prior, "prior distribution, truncated to [low, high]");
  w.variable("low", {"parameter"}, low, "least value allowed");
  w.variable("high", {"parameter"}, high, "greatest value allowed");
  w.variable("posterior_mean", {"parameter"}, mean, "weighted mean of the last generation");
  w.variable("posterior_sd", {"parameter"}, sd,
             "weighted standard deviation of the last generation");
  w.variable("posterior_low", {"parameter"}, plow, "weighted 2.5% quantile of the last generation");
  w.variable("posterior_median", {"parameter"}, median, "weighted median of the last generation");
  w.variable("posterior_high", {"parameter"}, phigh,
             "weighted 97.5% quantile of the last generation");
  w.variable("estimate", {"parameter"}, rec.estimate,
             "the value written into the calibrated scenario: the last generation's "
             "best-fitting particle (smallest distance), to 4 significant digits");

  w.variable("target_value", {"target"}, rec.target_values, "the published figure");
  w.variable("target_tolerance", {"target"}, rec.target_tolerances,
             "how far from the figure the model may be");
  w.variable("target_source", {"target"}, rec.target_sources, "where the figure comes from");
  write_checks(w, "check", "target", rec.check, "target");

  w.variable("prediction_published", {"prediction"}, rec.prediction_values,
             "a published figure to compare the prediction with (NaN: none)");
  w.variable("prediction_source", {"prediction"}, rec.prediction_sources,
             "where the published figure comes from");
  write_checks(w, "prediction", "prediction", rec.prediction_check, "prediction");
}

}  // namespace

void write_calibration_file(const fs::path& destination, const CalibrationRecord& rec,
                            bool overwrite) {
  h5::prepare_destination(destination, overwrite);
  h5::ErrorSilencer silence;
  const fs::path temporary = h5::temporary_path_for(destination);
  const std::string where = fmt::format("calibration file '{}'", temporary.string());
  try {
    {
      Handle file = h5::create_file(temporary, "cannot create " + where);
      write_contents(file.get(), rec, where);
      h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "cannot finish " + where);
      if (!file.close()) h5::fail("cannot finish " + where);
    }
    h5::sync_to_disk(temporary);
    h5::move_into_place(temporary, destination, overwrite);
  } catch (...) {
    std::error_code ec;
    fs::remove(temporary, ec);
    throw;
  }
}

}  // namespace talentsim
