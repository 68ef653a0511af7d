#include "talentsim/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "talentsim/errors.hpp"

namespace talentsim {

// ---- statistics -------------------------------------------------------------

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double h = (static_cast<double>(values.size()) - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

Interval wilson_interval(std::int64_t successes, std::int64_t n, double z) {
  if (n <= 0) return {0, 1};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Interval paired_difference_interval(std::int64_t both, std::int64_t first_only,
                                    std::int64_t second_only, std::int64_t neither, double z) {
  const std::int64_t n = both + first_only + second_only + neither;
  if (n <= 0) return {-1, 1};
  const double nn = static_cast<double>(n);
  const double p1 = static_cast<double>(both + first_only) / nn;
  const double p2 = static_cast<double>(both + second_only) / nn;
  const Interval w1 = wilson_interval(both + first_only, n, z);
  const Interval w2 = wilson_interval(both + second_only, n, z);
  // phi: the correlation of the two outcomes; 0 when a margin is empty.
  const double a = static_cast<double>(both), b = static_cast<double>(first_only),
               c = static_cast<double>(second_only), d = static_cast<double>(neither);
  const double denominator = (a + b) * (c + d) * (a + c) * (b + d);
  const double phi = denominator > 0 ? (a * d - b * c) / std::sqrt(denominator) : 0.0;
  const double delta = p1 - p2;
  const double dl1 = p1 - w1.low, du1 = w1.high - p1, dl2 = p2 - w2.low, du2 = w2.high - p2;
  const double lower =
      delta - std::sqrt(std::max(0.0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2));
  const double upper =
      delta + std::sqrt(std::max(0.0, du1 * du1 - 2 * phi * du1 * dl2 + dl2 * dl2));
  return {std::max(-1.0, lower), std::min(1.0, upper)};
}

// ---- one run ----------------------------------------------------------------

RunMetadata run_metadata(const Scenario& s, const std::string& command_line) {
  RunMetadata meta;
  meta.scenario_name = s.name;
  meta.start_date = to_iso(s.start);
  meta.step_days = s.step_days;
  for (const auto& l : s.labs) meta.lab_names.push_back(l.name);
  for (const auto& t : s.tiers) meta.tier_names.push_back(t.name);
  for (const auto& r : s.researchers) meta.named_names.push_back(r.name);
  for (const auto& q : s.questions) {
    QuestionInfo info;
    info.id = q.id;
    info.text = q.text;
    info.metric = to_string(q.metric);
    info.lab = s.labs[q.lab].name;
    if (q.at_least) info.at_least = *q.at_least;
    if (q.at_most) info.at_most = *q.at_most;
    meta.questions.push_back(info);
  }
  meta.replicates = s.replicates;
  meta.seed = s.seed;
  meta.scenario_text = s.source_text;
  meta.command_line = command_line;
  return meta;
}

RunAccumulator::RunAccumulator(const RunMetadata& meta, ResultShape shape)
    : meta_(meta),
      shape_(shape),
      start_(shape.labs, 0),
      end_(static_cast<std::size_t>(meta.replicates) * shape.labs, 0),
      values_(static_cast<std::size_t>(meta.replicates) * shape.questions, 0.0),
      hires_(shape.labs, 0),
      departures_(shape.labs, 0) {
  if (meta.questions.size() != static_cast<std::size_t>(shape.questions))
    throw InternalError("RunAccumulator: the metadata and the shape disagree on the questions");
  for (const auto& q : meta.questions)
    ratio_slot_.push_back(is_ratio_metric(q.metric) ? ratios_++ : -1);
  numerators_.assign(static_cast<std::size_t>(meta.replicates) * static_cast<std::size_t>(ratios_),
                     0.0);
  denominators_.assign(numerators_.size(), 1.0);
}

void RunAccumulator::add(const ReplicateResult& r) {
  if (r.replicate < 0 || r.replicate >= meta_.replicates)
    throw InternalError("RunAccumulator: replicate out of range");
  const auto& s = r.shape;
  for (int l = 0; l < s.labs; ++l) {
    // Headcount before the first step, the same in every replicate.
    if (added_ == 0)
      for (int k = 0; k < s.tiers; ++k)
        start_[l] +=
            r.headcount[r.tlk(0, l, k)] - r.hires[r.tlk(0, l, k)] + r.departures[r.tlk(0, l, k)];
    std::int64_t end = 0;
    for (int k = 0; k < s.tiers; ++k) {
      end += r.headcount[r.tlk(s.steps - 1, l, k)];
      for (int t = 0; t < s.steps; ++t) {
        hires_[l] += r.hires[r.tlk(t, l, k)];
        departures_[l] += r.departures[r.tlk(t, l, k)];
      }
    }
    end_[static_cast<std::size_t>(r.replicate) * s.labs + l] = static_cast<std::int32_t>(end);
  }
  for (int q = 0; q < s.questions; ++q) {
    const std::size_t at = static_cast<std::size_t>(r.replicate) * s.questions + q;
    values_[at] = r.question_value[q];
    if (const int slot = ratio_slot_[q]; slot >= 0) {
      numerators_[ratio_at(r.replicate, slot)] = r.question_numerator[q];
      denominators_[ratio_at(r.replicate, slot)] = r.question_denominator[q];
    }
  }
  ++added_;
}

bool RunAccumulator::outcome(std::int64_t replicate, int q) const {
  const double v = question_value(replicate, q);
  const QuestionInfo& info = meta_.questions[q];
  return (std::isnan(info.at_least) || v >= info.at_least) &&
         (std::isnan(info.at_most) || v <= info.at_most);
}

RunReport RunAccumulator::report() const {
  if (added_ != meta_.replicates)
    throw InternalError("RunAccumulator: report before every replicate was added");
  const std::int64_t R = meta_.replicates;
  const double n = static_cast<double>(R);
  RunReport rep;
  rep.name = meta_.scenario_name;
  rep.replicates = R;
  rep.seed = meta_.seed;
  rep.steps = shape_.steps;
  rep.step_days = meta_.step_days;
  rep.start_date = meta_.start_date;
  std::vector<double> values(static_cast<std::size_t>(R));
  for (int l = 0; l < shape_.labs; ++l) {
    LabSummary row;
    row.lab = meta_.lab_names[l];
    row.start_headcount = start_[l];
    double sum = 0;
    for (std::int64_t r = 0; r < R; ++r) sum += values[r] = end_headcount(r, l);
    row.end_mean = sum / n;
    row.end_p5 = quantile(values, 0.05);
    row.end_p95 = quantile(values, 0.95);
    row.hires_mean = static_cast<double>(hires_[l]) / n;
    row.departures_mean = static_cast<double>(departures_[l]) / n;
    rep.labs.push_back(row);
  }
  for (int q = 0; q < shape_.questions; ++q) {
    QuestionSummary qs;
    qs.info = meta_.questions[q];
    qs.n = R;
    // The value's distribution over the replicates where it is a number.
    double sum = 0, numerators = 0, denominators = 0;
    values.clear();
    for (std::int64_t r = 0; r < R; ++r) {
      const double v = question_value(r, q);
      if (std::isfinite(v)) {
        sum += v;
        values.push_back(v);
      }
      numerators += question_numerator(r, q);
      denominators += question_denominator(r, q);
      qs.yes += outcome(r, q);
    }
    qs.probability = static_cast<double>(qs.yes) / n;
    qs.interval = wilson_interval(qs.yes, R);
    qs.defined = static_cast<std::int64_t>(values.size());
    qs.mean = values.empty() ? std::nan("") : sum / static_cast<double>(values.size());
    qs.p5 = quantile(values, 0.05);
    qs.p50 = quantile(values, 0.50);
    qs.p95 = quantile(values, 0.95);
    qs.pooled =
        is_ratio_metric(qs.info.metric) ? ratio_value(numerators, denominators) : std::nan("");
    rep.questions.push_back(qs);
  }
  return rep;
}

// ---- a comparison -------------------------------------------------------------

namespace {

int index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

struct Moments {
  double mean = 0, variance = 0;  // sample variance (n - 1)
};

template <class F>
Moments moments(std::int64_t n, F value) {
  Moments m;
  for (std::int64_t r = 0; r < n; ++r) m.mean += value(r);
  m.mean /= static_cast<double>(n);
  for (std::int64_t r = 0; r < n; ++r) m.variance += (value(r) - m.mean) * (value(r) - m.mean);
  m.variance = n > 1 ? m.variance / static_cast<double>(n - 1) : 0.0;
  return m;
}

}  // namespace

ComparisonReport compare_runs(const RunAccumulator& baseline, const RunAccumulator& whatif) {
  if (baseline.replicates() != whatif.replicates())
    throw InternalError("compare_runs: runs differ in replicates");
  const std::int64_t R = baseline.replicates();
  ComparisonReport out;
  out.baseline = baseline.report();
  out.whatif = whatif.report();

  const auto& bq = baseline.meta().questions;
  std::vector<std::string> whatif_ids;
  for (const auto& q : whatif.meta().questions) whatif_ids.push_back(q.id);
  for (int q = 0; q < static_cast<int>(bq.size()); ++q) {
    const int w = index_of(whatif_ids, bq[q].id);
    if (w < 0) continue;
    std::int64_t both = 0, base_only = 0, whatif_only = 0, neither = 0;
    for (std::int64_t r = 0; r < R; ++r) {
      const bool a = baseline.outcome(r, q), b = whatif.outcome(r, w);
      both += a && b;
      base_only += a && !b;
      whatif_only += !a && b;
      neither += !a && !b;
    }
    QuestionComparison c;
    c.id = bq[q].id;
    c.text = bq[q].text;
    c.probability.baseline = static_cast<double>(both + base_only) / static_cast<double>(R);
    c.probability.whatif = static_cast<double>(both + whatif_only) / static_cast<double>(R);
    c.probability.difference = c.probability.whatif - c.probability.baseline;
    // Newcombe's interval is for first - second: put the what-if first.
    c.probability.interval = paired_difference_interval(both, whatif_only, base_only, neither);
    out.questions.push_back(c);
  }

  double largest = -1;
  for (int l = 0; l < baseline.lab_count(); ++l) {
    const std::string& name = baseline.meta().lab_names[l];
    const int w = index_of(whatif.meta().lab_names, name);
    if (w < 0) continue;
    const auto a = moments(R, [&](std::int64_t r) { return baseline.end_headcount(r, l); });
    const auto b = moments(R, [&](std::int64_t r) { return whatif.end_headcount(r, w); });
    const auto d = moments(R, [&](std::int64_t r) {
      return whatif.end_headcount(r, w) - baseline.end_headcount(r, l);
    });
    LabComparison c;
    c.lab = name;
    c.end_headcount.baseline = a.mean;
    c.end_headcount.whatif = b.mean;
    c.end_headcount.difference = d.mean;
    const double half = kZ95 * std::sqrt(d.variance / static_cast<double>(R));
    c.end_headcount.interval = {d.mean - half, d.mean + half};
    out.labs.push_back(c);
    if (std::abs(d.mean) > largest) {
      largest = std::abs(d.mean);
      out.headline_lab = name;
      out.paired_variance = d.variance;
      out.independent_variance = a.variance + b.variance;
      out.variance_reduction = d.variance > 0 ? out.independent_variance / d.variance
                                              : std::numeric_limits<double>::infinity();
    }
  }
  return out;
}

// ---- presentation ---------------------------------------------------------------

namespace {

std::string bounds_text(const QuestionInfo& q) {
  const bool lo = !std::isnan(q.at_least), hi = !std::isnan(q.at_most);
  if (lo && hi) return fmt::format("{:g} <= {} <= {:g}", q.at_least, q.metric, q.at_most);
  if (lo) return fmt::format("{} >= {:g}", q.metric, q.at_least);
  if (hi) return fmt::format("{} <= {:g}", q.metric, q.at_most);
  return fmt::format("{}: any value", q.metric);
}

std::size_t width_of(const std::vector<std::string>& names, std::size_t at_least) {
  for (const auto& n : names) at_least = std::max(at_least, n.size());
  return at_least;
}

std::string lab_table(const RunReport& r) {
  std::vector<std::string> names;
  for (const auto& l : r.labs) names.push_back(l.lab);
  const std::size_t w = width_of(names, 3);
  std::string out = fmt::format("{:<{}}  {:>8}  {:>10}  {:>17}  {:>10}  {:>10}\n", "lab", w,
                                "start", "end mean", "end 5%-95%", "hires", "departures");
  for (const auto& l : r.labs)
    out += fmt::format("{:<{}}  {:>8}  {:>10.1f}  {:>17}  {:>10.1f}  {:>10.1f}\n", l.lab, w,
                       l.start_headcount, l.end_mean,
                       fmt::format("{:.0f} - {:.0f}", l.end_p5, l.end_p95), l.hires_mean,
                       l.departures_mean);
  out += fmt::format(
      "(headcount at the end of the run: mean and 5th-95th percentile over {} "
      "replicates; hires and departures: mean per replicate over the whole run)\n",
      r.replicates);
  return out;
}

// A value as the table prints it: NaN as "-" (no replicate had one).
std::string cell(double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.3g}", v); }

std::string question_table(const RunReport& r) {
  if (r.questions.empty()) return "";
  std::vector<std::string> ids;
  for (const auto& q : r.questions) ids.push_back(q.info.id);
  const std::size_t w = width_of(ids, 8);
  // The ratio metrics add a column: their pooled estimate.
  const bool ratios = std::any_of(r.questions.begin(), r.questions.end(),
                                  [](const auto& q) { return is_ratio_metric(q.info.metric); });
  std::string out = fmt::format("\n{:<{}}  {:>6}  {:>15}  {:>9}  {:>9}  {:>9}  {:>9}  {}{}\n",
                                "question", w, "P", "95% interval", "mean", "5%", "median", "95%",
                                ratios ? fmt::format("{:>9}  ", "pooled") : "", "outcome");
  for (const auto& q : r.questions)
    out +=
        fmt::format("{:<{}}  {:>6.3f}  {:>15}  {:>9}  {:>9}  {:>9}  {:>9}  {}{}\n", q.info.id, w,
                    q.probability, fmt::format("[{:.3f}, {:.3f}]", q.interval.low, q.interval.high),
                    cell(q.mean), cell(q.p5), cell(q.p50), cell(q.p95),
                    ratios ? fmt::format("{:>9}  ", cell(q.pooled)) : "", bounds_text(q.info));
  out +=
      "(P: share of replicates with the outcome, Wilson 95% interval; mean and percentiles "
      "of the question's value)\n";
  if (ratios)
    out +=
        "(pooled: for retention, flow_ratio and tenure, the sum over replicates of the "
        "numerators over the sum of the denominators)\n";
  bool undefined = false;
  for (const auto& q : r.questions)
    if (q.defined < q.n) {
      undefined = true;
      out += fmt::format(
          "  {}: no finite value in {} of {} replicates (mean and percentiles over the "
          "other {})\n",
          q.info.id, q.n - q.defined, q.n, q.defined);
    }
  if (undefined)
    out +=
        "  (no finite value: the ratio's denominator was 0, which makes it NaN, or infinity for a "
        "flow ratio with moves one way only; P counts NaN as without the outcome)\n";
  for (const auto& q : r.questions)
    if (!q.info.text.empty()) out += fmt::format("  {}: {}\n", q.info.id, q.info.text);
  return out;
}

std::string header(const RunReport& r) {
  return fmt::format("{}: {} replicates, seed {}, {} steps of {} days from {}\n", r.name,
                     r.replicates, r.seed, r.steps, r.step_days, r.start_date);
}

// A minimal JSON writer: enough for reports, with correct string escaping
// and non-finite numbers as null.
class Json {
 public:
  Json& open(char c) {
    comma();
    out_ += c;
    first_ = true;
    return *this;
  }
  Json& close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  Json& key(const std::string& k) {
    comma();
    string_value(k);
    out_ += ':';
    first_ = true;
    return *this;
  }
  Json& value(const std::string& s) {
    comma();
    string_value(s);
    return *this;
  }
  Json& value(double v) {
    comma();
    out_ += std::isfinite(v) ? fmt::format("{}", v) : "null";
    return *this;
  }
  Json& value(std::int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  Json& value(std::uint64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  template <class T>
  Json& field(const std::string& k, const T& v) {
    key(k);
    return value(v);
  }
  const std::string& str() const { return out_; }

 private:
  void comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void string_value(const std::string& s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\r':
          out_ += "\\r";
          break;
        default:
          if (c < 0x20)
            out_ += fmt::format("\\u{:04x}", c);
          else
            out_ += static_cast<char>(c);
      }
    }
    out_ += '"';
  }
  std::string out_;
  bool first_ = true;
};

void json_interval(Json& j, const std::string& k, Interval i) {
  j.key(k).open('[').value(i.low).value(i.high).close(']');
}

void json_run(Json& j, const RunReport& r) {
  j.open('{');
  j.field("scenario", r.name).field("replicates", r.replicates).field("seed", r.seed);
  j.field("steps", static_cast<std::int64_t>(r.steps))
      .field("step_days", static_cast<std::int64_t>(r.step_days));
  j.field("start_date", r.start_date);
  j.key("labs").open('[');
  for (const auto& l : r.labs) {
    j.open('{').field("lab", l.lab).field("start_headcount", l.start_headcount);
    j.field("end_mean", l.end_mean).field("end_p5", l.end_p5).field("end_p95", l.end_p95);
    j.field("hires_mean", l.hires_mean).field("departures_mean", l.departures_mean).close('}');
  }
  j.close(']');
  j.key("questions").open('[');
  for (const auto& q : r.questions) {
    j.open('{').field("id", q.info.id).field("text", q.info.text).field("metric", q.info.metric);
    j.field("lab", q.info.lab).field("at_least", q.info.at_least).field("at_most", q.info.at_most);
    j.field("yes", q.yes).field("n", q.n).field("probability", q.probability);
    json_interval(j, "interval", q.interval);
    j.field("defined", q.defined);
    j.field("mean", q.mean).field("p5", q.p5).field("p50", q.p50).field("p95", q.p95);
    j.field("pooled", q.pooled).close('}');
  }
  j.close(']');
  j.close('}');
}

void json_difference(Json& j, const PairedDifference& d) {
  j.field("baseline", d.baseline).field("whatif", d.whatif).field("difference", d.difference);
  json_interval(j, "interval", d.interval);
}

}  // namespace

std::string format_text(const RunReport& r) {
  return header(r) + "\n" + lab_table(r) + question_table(r);
}

std::string format_text(const ComparisonReport& c) {
  std::string out = fmt::format("baseline {}what-if  {}", header(c.baseline), header(c.whatif));
  out += "(same seed and identity-keyed random streams: differences are paired by replicate)\n";
  if (!c.questions.empty()) {
    std::vector<std::string> ids;
    for (const auto& q : c.questions) ids.push_back(q.id);
    const std::size_t w = width_of(ids, 8);
    out += fmt::format("\n{:<{}}  {:>9}  {:>9}  {:>10}  {:>17}\n", "question", w, "P base",
                       "P what-if", "difference", "paired 95%");
    for (const auto& q : c.questions)
      out += fmt::format("{:<{}}  {:>9.3f}  {:>9.3f}  {:>+10.3f}  {:>17}\n", q.id, w,
                         q.probability.baseline, q.probability.whatif, q.probability.difference,
                         fmt::format("[{:+.3f}, {:+.3f}]", q.probability.interval.low,
                                     q.probability.interval.high));
    out +=
        "(difference = what-if - baseline; interval: Newcombe's method for paired "
        "proportions)\n";
  }
  if (!c.labs.empty()) {
    std::vector<std::string> names;
    for (const auto& l : c.labs) names.push_back(l.lab);
    const std::size_t w = width_of(names, 3);
    out += fmt::format("\n{:<{}}  {:>10}  {:>10}  {:>10}  {:>19}\n", "lab", w, "end base",
                       "end what-if", "difference", "paired 95%");
    for (const auto& l : c.labs)
      out +=
          fmt::format("{:<{}}  {:>10.1f}  {:>11.1f}  {:>+10.1f}  {:>19}\n", l.lab, w,
                      l.end_headcount.baseline, l.end_headcount.whatif, l.end_headcount.difference,
                      fmt::format("[{:+.1f}, {:+.1f}]", l.end_headcount.interval.low,
                                  l.end_headcount.interval.high));
    out +=
        "(mean end-of-run headcount; interval: mean +- 1.96 standard errors of the paired "
        "differences)\n";
  }
  if (!c.headline_lab.empty()) {
    out += fmt::format(
        "\ncommon random numbers: {} end headcount, variance of the paired difference {:.3g} vs "
        "{:.3g} with independent streams",
        c.headline_lab, c.paired_variance, c.independent_variance);
    out += std::isfinite(c.variance_reduction)
               ? fmt::format(": {:.1f}x smaller\n", c.variance_reduction)
               : std::string(" (the paired difference is the same in every replicate)\n");
  }
  return out;
}

std::string format_json(const RunReport& r) {
  Json j;
  j.open('{').field("kind", std::string("run")).key("run");
  json_run(j, r);
  j.close('}');
  return j.str() + "\n";
}

std::string format_json(const ComparisonReport& c) {
  Json j;
  j.open('{').field("kind", std::string("comparison"));
  j.key("baseline");
  json_run(j, c.baseline);
  j.key("whatif");
  json_run(j, c.whatif);
  j.key("questions").open('[');
  for (const auto& q : c.questions) {
    j.open('{').field("id", q.id).field("text", q.text).key("probability").open('{');
    json_difference(j, q.probability);
    j.close('}').close('}');
  }
  j.close(']');
  j.key("labs").open('[');
  for (const auto& l : c.labs) {
    j.open('{').field("lab", l.lab).key("end_headcount").open('{');
    json_difference(j, l.end_headcount);
    j.close('}').close('}');
  }
  j.close(']');
  j.key("variance_reduction").open('{').field("figure", c.headline_lab + " end headcount");
  j.field("paired_variance", c.paired_variance)
      .field("independent_variance", c.independent_variance)
      .field("factor", c.variance_reduction)
      .close('}');
  j.close('}');
  return j.str() + "\n";
}

// ---- a sweep ---------------------------------------------------------------

namespace {

std::string parameter_range(const SweepFile& f, std::size_t d) {
  const std::size_t D = f.meta.parameter_paths.size();
  std::vector<double> seen;
  for (std::size_t p = 0; p < static_cast<std::size_t>(f.meta.points); ++p) {
    const double v = f.meta.parameter_values[p * D + d];
    if (std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(v);
  }
  std::sort(seen.begin(), seen.end());
  if (seen.empty()) return "";
  if (seen.size() <= 8) {
    std::string out;
    for (double v : seen) out += fmt::format("{}{:g}", out.empty() ? "" : ", ", v);
    return out;
  }
  return fmt::format("{:g} .. {:g} ({} values)", seen.front(), seen.back(), seen.size());
}

// P(question) over the 2 x 2 layout of a two-parameter grid.
std::string grid_matrix(const SweepFile& f, std::size_t q) {
  const std::size_t P = static_cast<std::size_t>(f.meta.points);
  std::vector<double> rows, cols;
  for (std::size_t p = 0; p < P; ++p) {
    const double a = f.meta.parameter_values[p * 2], b = f.meta.parameter_values[p * 2 + 1];
    if (std::find(rows.begin(), rows.end(), a) == rows.end()) rows.push_back(a);
    if (std::find(cols.begin(), cols.end(), b) == cols.end()) cols.push_back(b);
  }
  std::string out =
      fmt::format("\nP({}) by {} (rows) and {} (columns):\n{:>12}", f.meta.base.questions[q].id,
                  f.meta.parameter_paths[0], f.meta.parameter_paths[1], "");
  for (double b : cols) out += fmt::format("  {:>7.4g}", b);
  out += '\n';
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += fmt::format("{:>12.4g}", rows[i]);
    for (std::size_t j = 0; j < cols.size(); ++j)
      out += fmt::format("  {:>7.3f}", f.summaries[i * cols.size() + j].question_probability[q]);
    out += '\n';
  }
  return out;
}

std::string points_table(const SweepFile& f, std::size_t shown) {
  const std::size_t D = f.meta.parameter_paths.size();
  const auto& qs = f.meta.base.questions;
  // Columns by position, named underneath: paths and ids are too long.
  std::string out = fmt::format("\n{:>6}", "point");
  for (std::size_t d = 0; d < D; ++d) out += fmt::format("  {:>12}", fmt::format("[{}]", d));
  for (std::size_t q = 0; q < qs.size(); ++q)
    out += fmt::format("  {:>8}", fmt::format("P[q{}]", q));
  out += '\n';
  for (std::size_t p = 0; p < shown; ++p) {
    out += fmt::format("{:>6}", p);
    for (std::size_t d = 0; d < D; ++d)
      out += fmt::format("  {:>12.5g}", f.meta.parameter_values[p * D + d]);
    for (std::size_t q = 0; q < qs.size(); ++q)
      out += fmt::format("  {:>8.3f}", f.summaries[p].question_probability[q]);
    out += '\n';
  }
  if (shown < static_cast<std::size_t>(f.meta.points))
    out += fmt::format("({} more points in the file: question_probability, headcount_mean)\n",
                       f.meta.points - static_cast<std::int64_t>(shown));
  out += "(";
  for (std::size_t d = 0; d < D; ++d)
    out += fmt::format("{}[{}] {}", d ? ", " : "", d, f.meta.parameter_paths[d]);
  for (std::size_t q = 0; q < qs.size(); ++q) out += fmt::format("; q{} {}", q, qs[q].id);
  out += ")\n";
  if (f.meta.design == "sobol")
    out += fmt::format(
        "(a Sobol design lists each base row as {} points: A, B, then A with one "
        "parameter from B)\n",
        D + 2);
  return out;
}

std::string sobol_tables(const SweepFile& f) {
  const auto& t = f.sensitivity;
  const std::size_t D = f.meta.parameter_paths.size(), O = t.outputs.size(),
                    Q = f.meta.base.questions.size();
  const std::size_t w = width_of(f.meta.parameter_paths, 9);
  std::string out = fmt::format(
      "\nSobol' indices of each output across points ({} base samples; 95% intervals from {} "
      "bootstrap resamples)\n",
      f.meta.base_samples, t.resamples);
  const auto cell = [&](const std::vector<double>& v, const std::vector<double>& lo,
                        const std::vector<double>& hi, std::size_t i) {
    return fmt::format("{:.2f} [{:.2f}, {:.2f}]", v[i], lo[i], hi[i]);
  };
  // How much of an output's variance is the replicates' noise.
  const auto noise_share = [&](std::size_t o) -> std::string {
    if (o >= t.output_noise_variance.size() || !std::isfinite(t.output_noise_variance[o]) ||
        !(t.output_variance[o] > 0))
      return "";
    return fmt::format(", of which Monte Carlo noise {:.0f}%",
                       100 * t.output_noise_variance[o] / t.output_variance[o]);
  };
  for (std::size_t o = 0; o < O; ++o) {
    const std::string name =
        o < Q ? fmt::format("P({})", t.outputs[o]) : fmt::format("{} at the end", t.outputs[o]);
    out += fmt::format("\n{}: variance across points {:.3g}{}\n", name, t.output_variance[o],
                       noise_share(o));
    out += fmt::format("  {:<{}}  {:>20}  {:>20}\n", "parameter", w, "first order", "total");
    for (std::size_t d = 0; d < D; ++d)
      out += fmt::format("  {:<{}}  {:>20}  {:>20}\n", f.meta.parameter_paths[d], w,
                         cell(t.first, t.first_low, t.first_high, d * O + o),
                         cell(t.total, t.total_low, t.total_high, d * O + o));
  }
  out +=
      "(first order: share of the output's variance due to the parameter alone; total: "
      "including its interactions. Noise: the share of that variance that is the sampling "
      "error of a point's estimate from its replicates; it inflates the total indices and "
      "shrinks with more replicates per point)\n";
  return out;
}

}  // namespace

std::string format_sweep_text(const SweepFile& f) {
  const auto& m = f.meta;
  const std::size_t D = m.parameter_paths.size();
  std::string out =
      fmt::format("sweep {}: {} design over {} parameters, {} points x {} replicates, seed {}\n",
                  m.name, m.design, D, m.points, m.base.replicates, m.base.seed);
  out += fmt::format("base scenario: {}, {} steps of {} days from {}\n", m.base.scenario_name,
                     f.shape.steps, m.base.step_days, m.base.start_date);
  const std::size_t w = width_of(m.parameter_paths, 9);
  out += fmt::format("\n{:<{}}  {:<7}  {}\n", "parameter", w, "scale", "values swept");
  for (std::size_t d = 0; d < D; ++d)
    out += fmt::format("{:<{}}  {:<7}  {}\n", m.parameter_paths[d], w, m.parameter_scales[d],
                       parameter_range(f, d));
  const std::size_t Q = m.base.questions.size();
  if (m.design == "grid" && D == 2 && Q > 0) {
    for (std::size_t q = 0; q < Q; ++q) out += grid_matrix(f, q);
  } else if (Q > 0) {
    out += points_table(f, std::min<std::size_t>(static_cast<std::size_t>(m.points), 20));
  }
  if (Q > 0) {
    double widest = 0;
    for (const auto& sum : f.summaries)
      for (std::size_t q = 0; q < sum.question_low.size(); ++q)
        widest = std::max(widest, (sum.question_high[q] - sum.question_low[q]) / 2);
    out += fmt::format(
        "(P: share of a point's {} replicates with the question's outcome; its Wilson 95% "
        "interval, at most +-{:.2f} here, is in question_low and question_high)\n",
        m.base.replicates, widest);
    for (const auto& q : m.base.questions)
      out +=
          fmt::format("  {}: {}{}\n", q.id, q.text.empty() ? "" : q.text + " — ", bounds_text(q));
    if (std::any_of(m.parameter_paths.begin(), m.parameter_paths.end(),
                    [](const std::string& path) { return path.rfind("questions", 0) == 0; }))
      out +=
          "  (bounds as in the base scenario; where a bound is swept, each point's P uses the "
          "point's own bound, in parameter_value)\n";
  }
  if (f.has_sensitivity) out += sobol_tables(f);
  return out;
}

std::string format_sweep_json(const SweepFile& f) {
  const auto& m = f.meta;
  const std::size_t D = m.parameter_paths.size();
  Json j;
  j.open('{').field("kind", std::string("sweep")).field("name", m.name).field("design", m.design);
  j.field("points", m.points).field("replicates", m.base.replicates).field("seed", m.base.seed);
  j.field("base_samples", m.base_samples).field("scenario", m.base.scenario_name);
  j.key("parameters").open('[');
  for (std::size_t d = 0; d < D; ++d)
    j.open('{')
        .field("path", m.parameter_paths[d])
        .field("scale", m.parameter_scales[d])
        .close('}');
  j.close(']');
  j.key("questions").open('[');
  for (const auto& q : m.base.questions) j.value(q.id);
  j.close(']');
  j.key("labs").open('[');
  for (const auto& l : m.base.lab_names) j.value(l);
  j.close(']');
  j.key("results").open('[');
  for (std::size_t p = 0; p < static_cast<std::size_t>(m.points); ++p) {
    const auto& s = f.summaries[p];
    j.open('{').field("point", static_cast<std::int64_t>(p)).key("values").open('[');
    for (std::size_t d = 0; d < D; ++d) j.value(m.parameter_values[p * D + d]);
    j.close(']').key("probability").open('[');
    for (double v : s.question_probability) j.value(v);
    j.close(']').key("interval").open('[');
    for (std::size_t q = 0; q < s.question_low.size(); ++q)
      j.open('[').value(s.question_low[q]).value(s.question_high[q]).close(']');
    j.close(']').key("headcount_mean").open('[');
    for (double v : s.headcount_mean) j.value(v);
    j.close(']').close('}');
  }
  j.close(']');
  if (f.has_sensitivity) {
    const auto& t = f.sensitivity;
    j.key("sobol").open('{').field("resamples", static_cast<std::int64_t>(t.resamples));
    j.key("outputs").open('[');
    for (const auto& o : t.outputs) j.value(o);
    j.close(']');
    const std::size_t O = t.outputs.size();
    for (const auto& [name, v] : {std::pair{"first", &t.first},
                                  {"first_low", &t.first_low},
                                  {"first_high", &t.first_high},
                                  {"total", &t.total},
                                  {"total_low", &t.total_low},
                                  {"total_high", &t.total_high}}) {
      j.key(name).open('[');
      for (std::size_t d = 0; d < D; ++d) {
        j.open('[');
        for (std::size_t o = 0; o < O; ++o) j.value((*v)[d * O + o]);
        j.close(']');
      }
      j.close(']');
    }
    j.close('}');
  }
  j.close('}');
  return j.str() + "\n";
}

}  // namespace talentsim
