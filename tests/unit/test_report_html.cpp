// report.json and report.html from a run summary: the total row's latency
// is the jobs' merged histogram, the page draws one point per series entry,
// model text is inert, counts not computed say so, FIM/L2R sit side by side,
// a job's top names reach report.json as valid UTF-8.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "actors/coordinator/latency_histogram.hpp"
#include "actors/coordinator/scheduler.hpp"
#include "app/report_html.hpp"
#include "app/run_report.hpp"

using nlohmann::json;

namespace {

// A job whose attempts took `ms` each, `count` times.
evo::job_stats job_with_latency(const char* name, const char* mode,
                                uint32_t ms, uint64_t count) {
  evo::latency_histogram h;
  for (uint64_t i = 0; i < count; ++i)
    h.record(ms * 1000);
  evo::job_stats j;
  j.name = name;
  j.mode = mode;
  j.done = count;
  j.planned = count;
  j.latency_p50_ms = j.latency_p95_ms = j.latency_p99_ms = h.quantile_ms(0.5);
  for (auto [b, n] : h.nonzero()) {
    j.series.latency_buckets.push_back(b);
    j.series.latency_counts.push_back(n);
  }
  return j;
}

// The `points` of each polyline whose class starts with `cls`, as counts.
std::vector<size_t> polyline_points(const std::string& html,
                                    const std::string& cls) {
  std::vector<size_t> out;
  std::regex re("<polyline class=\"" + cls + "[^\"]*\" data-n=\"(\\d+)\" points=\"([^\"]*)\"");
  for (std::sregex_iterator it(html.begin(), html.end(), re), end; it != end; ++it) {
    std::istringstream pts((*it)[2].str());
    std::string pair;
    size_t n = 0;
    while (pts >> pair)
      ++n;
    CHECK(std::to_string(n) == (*it)[1].str()); // data-n says the same
    out.push_back(n);
  }
  return out;
}

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("total latency percentiles come from every job's attempts") {
  evo::run_summary s;
  s.jobs.push_back(job_with_latency("fast", "fim", 10, 60));
  s.jobs.push_back(job_with_latency("slow", "l2r", 50, 40));
  auto doc = json::parse(evo::render_json(s));
  auto& total = doc["total"]["latency_ms"];
  // 60 attempts at 10 ms, 40 at 50 ms: the median is 10, p95 and p99 are 50
  // (buckets are < 1 % wide).
  CHECK(total["p50"].get<double>() == doctest::Approx(10).epsilon(0.01));
  CHECK(total["p95"].get<double>() == doctest::Approx(50).epsilon(0.01));
  CHECK(total["p99"].get<double>() == doctest::Approx(50).epsilon(0.01));
  // The table's total row says the same.
  auto table = evo::render_table(s);
  auto total_row = table.substr(table.find("\ntotal"));
  CHECK(total_row.find(" 10.0 ") != std::string::npos);
  CHECK(total_row.find(" 50.0 ") != std::string::npos);
}

TEST_CASE("report.html draws one point per series entry") {
  auto spec = evo::make_job("fim_a", "fim", evo::endpoint_kind::completions, "{}", 40);
  evo::scheduler sched({spec}, 8);
  double now = 0;
  sched.set_clock([&now] { return now; });
  for (int round = 0; round < 5; ++round) {
    std::vector<evo::scheduler::item> out;
    while (sched.has_work() && out.size() < 8) {
      auto it = sched.next();
      sched.sent(*it);
      out.push_back(*it);
    }
    for (auto& it : out) {
      now += 0.07;
      sched.returned(it, 1, 20000 + 1000 * it.index);
      evo::write_stats ws;
      ws.choices = 4;
      ws.kept = it.index % 3;
      sched.written(0, ws);
    }
    if (round == 2) // a retry shows in its own chart
      sched.retrying(0, evo::failure_kind::timeout);
  }
  auto s = sched.summary(now);
  auto doc = json::parse(evo::render_json(s));
  auto& series = doc["jobs"][0]["series"];
  auto html = evo::render_report_html(doc);
  auto curve = series["curve"]["choices"].size();
  REQUIRE(curve == 41); // the origin and one point per write
  CHECK(polyline_points(html, "curve") == std::vector<size_t>{curve});
  auto bins = series["responses"].size();
  REQUIRE(bins > 10);
  CHECK(polyline_points(html, "rps") == std::vector<size_t>{bins});
  CHECK(polyline_points(html, "inflight") == std::vector<size_t>{bins});
  CHECK(polyline_points(html, "retry") == std::vector<size_t>{bins});
  // The latency bars hold every attempt.
  std::regex bar("<rect class=\"bar\" data-n=\"(\\d+)\"");
  auto lat = html.substr(html.find("class=\"chart latency"));
  lat = lat.substr(0, lat.find("</svg>"));
  uint64_t attempts = 0;
  for (std::sregex_iterator it(lat.begin(), lat.end(), bar), end; it != end; ++it)
    attempts += std::stoull((*it)[1].str());
  CHECK(attempts == 40);
  CHECK(count_of(lat, "class=\"mark p") == 3); // p50, p95, p99
  CHECK(html.find("stopped: budget") != std::string::npos);
}

TEST_CASE("report.html: text from a model or a manifest is inert") {
  auto doc = json::parse(evo::render_json([] {
    evo::run_summary s;
    s.jobs.push_back(job_with_latency("</svg><script>alert(1)</script>", "fim",
                                      5, 3));
    s.aborted = "<img src=x onerror=alert(2)>";
    return s;
  }()));
  doc["jobs"][0]["top_names"] = json::array(
    {{{"name", "</svg><script>alert(3)</script>"}, {"count", 7}},
     {{"name", "a\"onload=\"x"}, {"count", 2}}});
  doc["jobs"][0]["estimated_distinct"] = {
    {"value", 10}, {"low", 8}, {"high", 12}, {"method", "<b>chao1</b>"}};
  doc["jobs"][0]["filtered"]["<i>x</i>"] = 1;
  auto html = evo::render_report_html(doc);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
  CHECK(html.find("<i>") == std::string::npos);
  CHECK(html.find("\"onload") == std::string::npos);
  CHECK(html.find("&lt;/svg&gt;&lt;script&gt;alert(3)&lt;/script&gt;")
        != std::string::npos);
  CHECK(html.find("&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
        != std::string::npos);
  CHECK(evo::html_escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f");
}

TEST_CASE("report.html: counts not computed say so; computed ones show") {
  evo::run_summary s;
  s.jobs.push_back(job_with_latency("a", "fim", 5, 3));
  auto doc = json::parse(evo::render_json(s));
  auto html = evo::render_report_html(doc);
  CHECK(html.find("estimate: not computed") != std::string::npos);
  CHECK(html.find("most frequent names: not computed") != std::string::npos);
  doc["jobs"][0]["estimated_distinct"] = {
    {"value", 1234}, {"low", 1100}, {"high", 1400}, {"method", "chao1"}};
  doc["jobs"][0]["top_names"] = json::array();
  for (int i = 0; i < 25; ++i)
    doc["jobs"][0]["top_names"].push_back({{"name", "n" + std::to_string(i)},
                                           {"count", 100 - i}});
  doc["jobs"][0]["frequency_of_frequencies"] = json::array({50, 7, 2});
  html = evo::render_report_html(doc);
  CHECK(html.find("estimate: not computed") == std::string::npos);
  CHECK(html.find("estimated distinct names: 1234 (1100 to 1400, chao1)")
        != std::string::npos);
  CHECK(count_of(html, "<tr><td>n") == 20); // the 20 most frequent
  CHECK(html.find("f1=50 f2=7 f3=2") != std::string::npos);
}

TEST_CASE("report.html: FIM and L2R of a pair side by side, in one block") {
  evo::run_summary s;
  s.jobs.push_back(job_with_latency("solo", "l2r", 5, 3));
  s.jobs.push_back(job_with_latency("f", "fim", 5, 3));
  s.jobs.push_back(job_with_latency("l", "l2r", 5, 3));
  auto html = evo::render_report_html(
    json::parse(evo::render_json(s, {evo::ab_pair{1, 2}})));
  auto pair = html.find("<div class=\"cols pair\">");
  REQUIRE(pair != std::string::npos);
  auto f = html.find("<h3>f <small>"), l = html.find("<h3>l <small>"),
       solo = html.find("<h3>solo <small>");
  CHECK(pair < f);
  CHECK(f < l);
  CHECK(l < solo); // unpaired jobs after the pairs
  CHECK(count_of(html, "class=\"chart discovery") == 3);
}

TEST_CASE("write_report writes report.html next to report.json") {
  char tmpl[] = "/tmp/evo-report-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  evo::run_summary s;
  s.jobs.push_back(job_with_latency("a", "fim", 5, 3));
  s.interrupted = true;
  evo::write_report(dir, s);
  std::ifstream f(dir + "/report.html");
  std::stringstream text;
  text << f.rdbuf();
  CHECK(text.str().find("<p class=\"status\">interrupted") != std::string::npos);
  CHECK(text.str().find("</html>") != std::string::npos);
  std::remove((dir + "/report.html").c_str());
  std::remove((dir + "/report.json").c_str());
  rmdir(dir.c_str());
}

TEST_CASE("report.html: the marginal unique rate is over the last window") {
  // New names for the first 50 choices, then none: the rate over the last
  // tenth of the run (10 choices) is 1 early on and 0 at the end.
  json curve = {{"choices", json::array()}, {"kept", json::array()}};
  for (int x = 0; x <= 100; x += 5) {
    curve["choices"].push_back(x);
    curve["kept"].push_back(std::min(x, 50));
  }
  json doc = {{"jobs", json::array({{{"name", "a"},
                                     {"series", {{"curve", curve}}}}})}};
  auto html = evo::render_report_html(doc);
  std::regex re("<polyline class=\"rate [^\"]*\" data-n=\"(\\d+)\" points=\"([^\"]*)\"");
  std::smatch m;
  REQUIRE(std::regex_search(html, m, re));
  CHECK(m[1].str() == "20"); // every point but the origin
  std::vector<std::string> ys;
  std::istringstream pts(m[2].str());
  std::string p;
  while (pts >> p)
    ys.push_back(p.substr(p.find(',') + 1));
  REQUIRE(ys.size() == 20);
  // The plot's y runs from 174 (rate 0) up to 24 (rate 1).
  CHECK(ys[9] == "24.0");   // x = 50: the last 10 choices all new
  CHECK(ys[10] == "99.0");  // x = 55: 5 of the last 10 new
  CHECK(ys[11] == "174.0"); // x = 60: none of the last 10
  CHECK(ys[19] == "174.0"); // x = 100: none new
}

TEST_CASE("report.json: a job's top names, in order, as valid UTF-8") {
  evo::run_summary s;
  s.jobs.push_back(job_with_latency("a", "l2r", 5, 3));
  // a model's name with a stray byte and a quote: report.json stays valid
  s.jobs[0].top_names = {{"two_sum", 9}, {"bad\xff\"name", 4}};
  auto text = evo::render_json(s);
  auto doc = json::parse(text);
  auto& top = doc["jobs"][0]["top_names"];
  REQUIRE(top.size() == 2);
  CHECK(top[0]["name"] == "two_sum");
  CHECK(top[0]["count"] == 9);
  CHECK(top[1]["name"] == "bad\xEF\xBF\xBD\"name"); // U+FFFD, as names.jsonl
  CHECK(top[1]["count"] == 4);
  CHECK_FALSE(doc["total"].contains("top_names")); // a job's own
  auto html = evo::render_report_html(doc);
  CHECK(html.find("<tr><td>two_sum</td><td>9</td></tr>") != std::string::npos);
  CHECK(html.find("most frequent names: not computed") == std::string::npos);
}

TEST_CASE("report.json: the adaptive limit's sum and each node's own") {
  evo::run_summary s;
  s.jobs.push_back(job_with_latency("a", "l2r", 5, 3));
  s.concurrency.min = 2;
  s.concurrency.max = 40;
  s.concurrency.final = 30;
  s.concurrency.series = {{0.0, 2}, {1.5, 40}, {3.25, 30}};
  evo::node_trace n;
  n.node = "127.0.0.1:4000";
  n.base_url = "http://127.0.0.1:9000/v1";
  n.min = 1;
  n.max = 24;
  n.final = 20;
  n.series = {{0.0, 1}, {1.5, 24}, {3.25, 20}};
  s.concurrency.nodes = {n};
  auto doc = json::parse(evo::render_json(s));
  auto& lim = doc["concurrency_limit"];
  CHECK(lim["final"] == 30);
  CHECK(lim["series"].size() == 3);
  REQUIRE(lim["nodes"].size() == 1);
  auto& node = lim["nodes"][0];
  CHECK(node["node"] == "127.0.0.1:4000");
  CHECK(node["base_url"] == "http://127.0.0.1:9000/v1");
  CHECK(node["min"] == 1);
  CHECK(node["max"] == 24);
  CHECK(node["final"] == 20);
  REQUIRE(node["series"].size() == 3);
  CHECK(node["series"][2][0] == 3.25);
  CHECK(node["series"][2][1] == 20);
}

TEST_CASE("report.html: the adaptive limit is drawn as steps over the job's time, up to its end") {
  json job = {{"name", "a"},
              {"mode", "l2r"},
              {"series", {{"bin_s", 0.5}, {"end_s", 2.0},
                          {"responses", {4, 6, 8, 8}}, {"in_flight", {1, 2, 4, 4}}}}};
  json doc = {{"jobs", {job}}};
  // Without an adaptive limit no such line.
  CHECK(polyline_points(evo::render_report_html(doc), "limit").empty());

  // The point at 3 s is after the job's end (another mode's time).
  doc["concurrency_limit"] = {{"series", {{0.0, 1}, {0.5, 2}, {1.0, 4}, {3.0, 8}}}};
  auto html = evo::render_report_html(doc);
  // (0,1) (0.5,1) (0.5,2) (1,2) (1,4) (2,4): a step at each change, held
  // to the job's end.
  REQUIRE(polyline_points(html, "limit") == std::vector<size_t>{6});
  std::smatch m;
  auto pos = html.find("<polyline class=\"limit");
  REQUIRE(pos != std::string::npos);
  auto line = html.substr(pos, html.find("</polyline>", pos) - pos);
  REQUIRE(std::regex_search(line, m, std::regex("points=\"([^\"]*)\"")));
  std::vector<std::pair<double, double>> pts;
  std::istringstream in(m[1].str());
  std::string pair;
  while (in >> pair)
    pts.push_back({std::stod(pair.substr(0, pair.find(','))),
                   std::stod(pair.substr(pair.find(',') + 1))});
  REQUIRE(pts.size() == 6);
  CHECK(pts[0].second == pts[1].second); // held until the change
  CHECK(pts[1].first == pts[2].first);   // then a vertical step
  CHECK(pts[2].second < pts[1].second);  // up (SVG y grows downwards)
  CHECK(pts[4].second == pts[5].second); // the last limit held to the end
  CHECK(pts[5].first > pts[4].first);
  // On the in-flight axis: the limit 4 sits where in flight 4 does.
  auto inflight_at = html.find("<polyline class=\"inflight");
  REQUIRE(inflight_at != std::string::npos);
  auto inflight = html.substr(inflight_at, html.find("</polyline>", inflight_at) - inflight_at);
  REQUIRE(std::regex_search(inflight, m, std::regex("points=\"([^\"]*)\"")));
  auto last = m[1].str().substr(m[1].str().rfind(',') + 1);
  CHECK(std::stod(last) == pts[5].second);

  // One node: its limit is the run's, drawn once.
  doc["concurrency_limit"]["nodes"] = {{{"node", "local"}, {"series", {{0.0, 1}, {0.5, 2}}}}};
  CHECK(polyline_points(evo::render_report_html(doc), "limit node").empty());
  // Two nodes: each one's own steps too, named (and inert) in its title.
  doc["concurrency_limit"]["nodes"] = {
    {{"node", "127.0.0.1:4000"}, {"series", {{0.0, 1}, {1.5, 3}}}},
    {{"node", "<b>w2</b>"}, {"series", {{0.5, 1}}}}};
  html = evo::render_report_html(doc);
  // (0,1) (1.5,1) (1.5,3) (2,3); (0.5,1) (2,1).
  CHECK(polyline_points(html, "limit node") == std::vector<size_t>{4, 2});
  CHECK(html.find("limit of node 127.0.0.1:4000") != std::string::npos);
  CHECK(html.find("limit of node &lt;b&gt;w2&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("<b>w2") == std::string::npos);
}
