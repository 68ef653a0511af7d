#include "talentsim/scenario.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace talentsim {

std::string to_iso(Date d) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{d.days}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<Date> parse_iso_date(const std::string& text) {
  // Exactly YYYY-MM-DD.
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto field = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int v = 0;
    const char* first = text.data() + pos;
    const auto [ptr, ec] = std::from_chars(first, first + len, v);
    if (ec != std::errc{} || ptr != first + len) return std::nullopt;
    return v;
  };
  const auto y = field(0, 4), m = field(5, 2), d = field(8, 2);
  if (!y || !m || !d) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{*y},
                                        std::chrono::month{static_cast<unsigned>(*m)},
                                        std::chrono::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  return Date{static_cast<std::int32_t>(std::chrono::sys_days{ymd}.time_since_epoch().count())};
}

const char* to_string(EventType t) {
  switch (t) {
    case EventType::Raise:
      return "raise";
    case EventType::Comp:
      return "comp";
    case EventType::Prestige:
      return "prestige";
    case EventType::Policy:
      return "policy";
    case EventType::Move:
      return "move";
    case EventType::Poach:
      return "poach";
    case EventType::Found:
      return "found";
    case EventType::Close:
      return "close";
  }
  return "?";
}

const char* to_string(Metric m) {
  switch (m) {
    case Metric::Hires:
      return "hires";
    case Metric::Departures:
      return "departures";
    case Metric::NetFlow:
      return "net_flow";
    case Metric::Headcount:
      return "headcount";
    case Metric::Share:
      return "share";
    case Metric::NamedAt:
      return "named_at";
    case Metric::Retention:
      return "retention";
    case Metric::FlowRatio:
      return "flow_ratio";
    case Metric::Tenure:
      return "tenure";
  }
  return "?";
}

bool is_ratio(Metric m) {
  return m == Metric::Retention || m == Metric::FlowRatio || m == Metric::Tenure;
}

bool is_ratio_metric(const std::string& name) {
  return name == to_string(Metric::Retention) || name == to_string(Metric::FlowRatio) ||
         name == to_string(Metric::Tenure);
}

std::vector<std::int64_t> Scenario::initial_headcount() const {
  std::vector<std::int64_t> h(labs.size(), 0);
  for (std::size_t l = 0; l < labs.size(); ++l)
    for (auto c : labs[l].headcount) h[l] += c;
  for (const auto& r : researchers)
    if (r.lab >= 0) ++h[static_cast<std::size_t>(r.lab)];
  return h;
}

}  // namespace talentsim
