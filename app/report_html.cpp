#include "app/report_html.hpp"
#include "app/report_svg.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>
#include <vector>

namespace evo {

using nlohmann::json;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// Reads tolerate a report without the key, or with another type there.
double num(const json& j, const char* key, double fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& sub(const json& j, const char* key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() ? *it : empty;
}

std::vector<double> numbers(const json& j) {
  std::vector<double> out;
  if (j.is_array())
    for (auto& v : j)
      out.push_back(v.is_number() ? v.get<double>() : 0.0);
  return out;
}

// Why the job's curve ends where it does.
std::string stop_reason(const json& report, const json& job) {
  auto by = str(job, "stopped_by");
  if (!by.empty())
    return by;
  if (report.contains("aborted"))
    return "aborted";
  auto target = num(job, "target_unique");
  if (target > 0 && num(job, "names_in_folder") >= target)
    return "target";
  if (report.value("interrupted", false)
      && num(job, "done") + num(job, "failed") < num(job, "requests"))
    return "interrupted";
  return "budget";
}

std::string discovery_chart(const json& report, const json& job) {
  auto& series = sub(job, "series");
  auto xs = numbers(sub(sub(series, "curve"), "choices"));
  auto ys = numbers(sub(sub(series, "curve"), "kept"));
  xs.resize(std::min(xs.size(), ys.size()));
  ys.resize(xs.size());
  svg_plot p;
  p.css = "discovery";
  p.title = "discovery: distinct kept names against choices sampled";
  p.x_label = "choices sampled";
  p.y_label = "kept";
  p.y2_label = "new per choice";
  p.y2_hi = 1;
  svg_line curve{"curve", "kept names", false, {}};
  for (size_t i = 0; i < xs.size(); ++i)
    curve.points.push_back({xs[i], ys[i]});
  // The marginal unique rate over a sliding window of choices: the stop
  // rule's window when the job has one, else a tenth of the run.
  auto total = xs.empty() ? 0.0 : xs.back();
  auto window = num(sub(job, "stop_when"), "window", std::max(1.0, total / 10));
  svg_line rate{"rate", "new names per choice, last "
                          + svg_number(window) + " choices", true, {}};
  size_t j = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    while (j + 1 < i && xs[j + 1] <= xs[i] - window)
      ++j;
    if (xs[i] > xs[j])
      rate.points.push_back({xs[i], (ys[i] - ys[j]) / (xs[i] - xs[j])});
  }
  p.lines = {std::move(curve), std::move(rate)};
  if (!xs.empty())
    p.marks.push_back({"stop", xs.back(), "stopped: " + stop_reason(report, job)});
  return render_svg_plot(p);
}

std::string latency_chart(const json& job) {
  auto& buckets = sub(sub(job, "series"), "latency_ms");
  // Fine buckets as [low, high, count]; drawn as up to 40 even bars up to
  // a little past p99, everything slower in the last bar.
  std::vector<std::pair<double, double>> mass; // (middle ms, count)
  for (auto& b : buckets.is_array() ? buckets : json::array())
    if (b.is_array() && b.size() == 3 && b[2].is_number())
      mass.push_back({(b[0].get<double>() + b[1].get<double>()) / 2,
                      b[2].get<double>()});
  auto& lat = sub(job, "latency_ms");
  auto p99 = num(lat, "p99");
  double hi = 0;
  for (auto& m : mass)
    hi = std::max(hi, m.first);
  hi = std::min(hi, p99 * 1.25);
  svg_bars bars;
  bars.css = "latency";
  bars.title = "latency per attempt (ms)";
  bars.x_label = "ms";
  constexpr size_t n = 40;
  if (!mass.empty() && hi > 0) {
    bars.x_hi = hi;
    std::vector<double> counts(n, 0);
    for (auto& m : mass)
      counts[std::min(n - 1, static_cast<size_t>(m.first / hi * n))] += m.second;
    for (size_t i = 0; i < n; ++i)
      if (counts[i] > 0)
        bars.bars.push_back({hi * i / n, hi * (i + 1) / n, counts[i], ""});
    for (auto q : {"p50", "p95", "p99"})
      bars.marks.push_back({q, std::min(num(lat, q), hi), std::string(q) + " "
                                                     + svg_number(num(lat, q))});
  }
  return render_svg_bars(bars);
}

// Seconds each time bin covers (the last one may end early).
std::vector<double> bin_cover(const json& series, size_t bins) {
  auto width = num(series, "bin_s"), end = num(series, "end_s");
  std::vector<double> out;
  for (size_t i = 0; i < bins; ++i)
    out.push_back(std::max(0.0, std::min(width, end - width * i)));
  return out;
}

// An adaptive limit's [[t, limit], ...] as steps over the job's time axis,
// clipped to the job's end (the run's limit is shared by its jobs).
svg_line limit_steps(const json& series, double end_s, std::string css,
                     std::string label) {
  svg_line line{std::move(css), std::move(label), true, {}};
  if (!series.is_array())
    return line;
  for (auto& point : series) {
    if (!point.is_array() || point.size() != 2 || !point[0].is_number()
        || !point[1].is_number())
      continue;
    auto t = point[0].get<double>(), limit = point[1].get<double>();
    if (t > end_s)
      break;
    if (!line.points.empty())
      line.points.push_back({t, line.points.back().second});
    line.points.push_back({t, limit});
  }
  if (!line.points.empty() && line.points.back().first < end_s)
    line.points.push_back({end_s, line.points.back().second});
  return line;
}

std::string throughput_chart(const json& report, const json& job) {
  auto& series = sub(job, "series");
  auto responses = numbers(sub(series, "responses"));
  auto in_flight = numbers(sub(series, "in_flight"));
  auto cover = bin_cover(series, responses.size());
  auto width = num(series, "bin_s");
  svg_plot p;
  p.css = "throughput";
  p.title = "requests/s and in flight over time";
  p.x_label = "s";
  p.y_label = "requests/s";
  p.y2_label = "in flight";
  svg_line rps{"rps", "attempts answered per second", false, {}};
  svg_line inflight{"inflight", "mean attempts in flight", true, {}};
  for (size_t i = 0; i < responses.size(); ++i) {
    auto t = width * i + cover[i] / 2;
    rps.points.push_back({t, cover[i] > 0 ? responses[i] / cover[i] : 0});
    if (i < in_flight.size())
      inflight.points.push_back({t, in_flight[i]});
  }
  p.lines = {std::move(rps), std::move(inflight)};
  // The run's adaptive limit (the sum over nodes) and, with more than one
  // node, each node's own.
  auto& limits = sub(report, "concurrency_limit");
  auto end_s = num(series, "end_s");
  auto limit = limit_steps(sub(limits, "series"), end_s, "limit",
                           "adaptive concurrency limit (run, all nodes)");
  if (!limit.points.empty()) {
    p.title = "requests/s, in flight and the adaptive limit over time";
    p.lines.push_back(std::move(limit));
    auto& nodes = sub(limits, "nodes");
    if (nodes.is_array() && nodes.size() > 1)
      for (auto& node : nodes) {
        if (!node.is_object())
          continue;
        auto own = limit_steps(sub(node, "series"), end_s, "limit node",
                               "limit of node " + str(node, "node"));
        if (!own.points.empty())
          p.lines.push_back(std::move(own));
      }
  }
  return render_svg_plot(p);
}

std::string retries_chart(const json& job) {
  auto& series = sub(job, "series");
  auto& retries = sub(series, "retries");
  if (!retries.is_object() || retries.empty())
    return "<p class=\"none retries\">retries over time: none</p>\n";
  auto width = num(series, "bin_s");
  svg_plot p;
  p.css = "retries";
  p.title = "retries per second over time, by reason";
  p.x_label = "s";
  p.y_label = "retries/s";
  for (auto& [reason, per_bin] : retries.items()) {
    auto counts = numbers(per_bin);
    auto cover = bin_cover(series, counts.size());
    svg_line l{"retry", reason, false, {}};
    for (size_t i = 0; i < counts.size(); ++i)
      l.points.push_back({width * i + cover[i] / 2,
                          cover[i] > 0 ? counts[i] / cover[i] : 0});
    p.lines.push_back(std::move(l));
  }
  return render_svg_plot(p);
}

std::string outcome_chart(const json& job) {
  svg_bars bars;
  bars.css = "filters";
  bars.title = "what became of the choices";
  bars.horizontal = true;
  bars.bars.push_back({0, 0, num(job, "kept"), "kept"});
  bars.bars.push_back({0, 0, num(job, "duplicates"), "duplicates"});
  auto& filtered = sub(job, "filtered");
  if (filtered.is_object())
    for (auto& [reason, n] : filtered.items())
      bars.bars.push_back(
        {0, 0, n.is_number() ? n.get<double>() : 0, "filtered (" + reason + ")"});
  return render_svg_bars(bars);
}

// Counts another part of the program may add to report.json; the page says
// plainly when they are not there.
std::string counts_section(const json& job) {
  std::string out = "<div class=\"counts\">\n";
  auto& top = sub(job, "top_names");
  if (top.is_array() && !top.empty()) {
    out += "<table class=\"top-names\"><caption>most frequent names"
           "</caption><tr><th>name</th><th>seen</th></tr>\n";
    size_t rows = 0;
    for (auto& e : top) {
      if (++rows > 20)
        break;
      std::string name;
      double count = 0;
      if (e.is_object()) {
        name = str(e, "name");
        count = num(e, "count");
      } else if (e.is_array() && e.size() == 2 && e[0].is_string()) {
        name = e[0].get<std::string>();
        count = e[1].is_number() ? e[1].get<double>() : 0;
      }
      out += "<tr><td>" + html_escape(name) + "</td><td>" + svg_number(count)
             + "</td></tr>\n";
    }
    out += "</table>\n";
  } else {
    out += "<p class=\"placeholder\">most frequent names: not computed</p>\n";
  }
  auto& fof = sub(job, "frequency_of_frequencies");
  if ((fof.is_array() || fof.is_object()) && !fof.empty()) {
    out += "<p class=\"fof\">names seen k times:";
    size_t shown = 0, k = 0;
    for (auto& [key, v] : fof.items()) {
      ++k;
      if (++shown > 10)
        break;
      auto label = fof.is_array() ? std::to_string(k) : key;
      out += " f" + html_escape(label) + "="
             + (v.is_number() ? svg_number(v.get<double>()) : html_escape(v.dump()));
    }
    out += "</p>\n";
  }
  auto& est = sub(job, "estimated_distinct");
  // method "none": no valid choice was sampled, so nothing to estimate.
  if (est.is_object() && est.contains("value") && str(est, "method") != "none") {
    out += "<p class=\"estimate\">estimated distinct names: "
           + svg_number(num(est, "value")) + " (" + svg_number(num(est, "low"))
           + " to " + svg_number(num(est, "high")) + ", "
           + html_escape(str(est, "method")) + ")"
           + (est.contains("p_new") && est["p_new"].is_number()
                ? "; chance the next valid choice is new: "
                    + svg_number(num(est, "p_new"))
                : std::string{})
           + "</p>\n";
  } else {
    out += "<p class=\"placeholder\">estimate: not computed</p>\n";
  }
  return out + "</div>\n";
}

std::string job_section(const json& report, const json& job) {
  std::string out = "<div class=\"job\">\n<h3>" + html_escape(str(job, "name"))
                    + " <small>" + html_escape(str(job, "mode"))
                    + "</small></h3>\n";
  out += discovery_chart(report, job);
  out += latency_chart(job);
  out += throughput_chart(report, job);
  out += retries_chart(job);
  out += outcome_chart(job);
  out += counts_section(job);
  return out + "</div>\n";
}

std::string summary_table(const json& report) {
  std::string out = "<table class=\"summary\"><tr><th>job</th><th>requests"
                    "</th><th>failed</th><th>retries</th><th>choices</th>"
                    "<th>kept</th><th>unique</th><th>p50 ms</th><th>p95 ms"
                    "</th><th>p99 ms</th><th>wall s</th><th>req/s</th></tr>\n";
  auto row = [&](const json& j, const char* css) {
    auto& lat = sub(j, "latency_ms");
    out += std::string("<tr class=\"") + css + "\"><td>"
           + html_escape(str(j, "name")) + "</td>";
    for (auto v : {num(j, "requests"), num(j, "failed"), num(j, "retries"),
                   num(j, "choices"), num(j, "kept")})
      out += "<td>" + svg_number(v) + "</td>";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * num(j, "unique_ratio"));
    out += std::string("<td>") + buf + "</td>";
    for (auto v : {num(lat, "p50"), num(lat, "p95"), num(lat, "p99"),
                   num(j, "wall_s"), num(j, "requests_per_s")})
      out += "<td>" + svg_number(v) + "</td>";
    out += "</tr>\n";
  };
  for (auto& j : sub(report, "jobs"))
    row(j, "job-row");
  if (report.contains("total"))
    row(report["total"], "total-row");
  return out + "</table>\n";
}

const char* style = R"(<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}h3{margin:.3em 0}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}
td:first-child,th:first-child{text-align:left}tr.total-row{font-weight:bold}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(500px,1fr));gap:1.5em}
.job{border:1px solid #ccc;border-radius:6px;padding:.8em}
svg.chart{display:block;margin:.6em 0;max-width:100%}
svg .frame{fill:none;stroke:#999}svg text{font-size:11px;fill:#444}svg .title{font-size:12px;fill:#222}
polyline,line.key{fill:none;stroke-width:1.5}.curve{stroke:#1f77b4}.rate{stroke:#ff7f0e}
.rps{stroke:#2ca02c}.inflight{stroke:#9467bd}.limit{stroke:#17becf;stroke-dasharray:5 2}.limit.node{stroke-width:1;stroke-dasharray:1 2}.retry{stroke:#d62728}
.retry.l1{stroke:#8c564b}.retry.l2{stroke:#e377c2}.retry.l3{stroke:#7f7f7f}.retry.l4{stroke:#bcbd22}
rect.bar{fill:#1f77b4}.mark{stroke:#d62728;stroke-dasharray:4 3}.stop{stroke:#000;stroke-dasharray:2 2}
.placeholder,.none{color:#777;font-style:italic}.status{font-weight:bold}
</style>
)";

} // namespace

std::string render_report_html(const json& report) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                    "charset=\"utf-8\"><title>evoselfcode run report</title>\n";
  out += style;
  out += "</head><body>\n<h1>evoselfcode run report</h1>\n<p class=\"status\">";
  if (report.contains("aborted"))
    out += "aborted: " + html_escape(str(report, "aborted"));
  else if (report.value("interrupted", false))
    out += "interrupted";
  else
    out += "finished";
  out += " after " + svg_number(num(report, "wall_s")) + " s</p>\n";
  out += summary_table(report);
  auto& jobs = sub(report, "jobs");
  std::set<std::string> paired;
  for (auto& ab : sub(report, "ab")) {
    auto fim = str(ab, "fim"), l2r = str(ab, "l2r");
    const json* f = nullptr;
    const json* l = nullptr;
    for (auto& j : jobs) {
      if (str(j, "name") == fim)
        f = &j;
      if (str(j, "name") == l2r)
        l = &j;
    }
    if (f == nullptr || l == nullptr)
      continue;
    paired.insert(fim);
    paired.insert(l2r);
    out += "<h2>A/B: FIM " + html_escape(fim) + " and L2R " + html_escape(l2r)
           + "</h2>\n<div class=\"cols pair\">\n" + job_section(report, *f)
           + job_section(report, *l) + "</div>\n";
  }
  bool heading = false;
  for (auto& j : jobs) {
    if (paired.count(str(j, "name")) > 0)
      continue;
    if (!heading)
      out += "<h2>Jobs</h2>\n<div class=\"cols\">\n";
    heading = true;
    out += job_section(report, j);
  }
  if (heading)
    out += "</div>\n";
  return out + "</body></html>\n";
}

} // namespace evo
