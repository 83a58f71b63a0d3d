// report.html in a real browser: Debian's chromium (headless, its own
// profile in the test's folder, host names resolve nowhere) parses the page
// of a real run against the simulator; the DOM it builds holds the charts
// with one point per series entry and no script. Without chromium the whole
// executable exits 77, which ctest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "app/report_html.hpp"
#include "tests/integration/cli_harness.hpp"

using namespace evo::test;
using nlohmann::json;

namespace {

std::string find_chromium() {
  if (auto* env = std::getenv("EVO_CHROMIUM"); env != nullptr && *env != '\0')
    return access(env, X_OK) == 0 ? env : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':'))
    for (auto name : {"chromium", "chromium-browser"})
      if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0)
        return d + "/" + name;
  return "";
}

// The DOM chromium builds from `file` (no script runs: there is none).
std::string dump_dom(const std::string& dir, const std::string& file) {
  child_process browser{{find_chromium(), "--headless", "--no-sandbox",
                         "--disable-gpu", "--user-data-dir=" + dir + "/chromium-profile",
                         "--no-first-run", "--disable-extensions",
                         "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--host-resolver-rules=MAP * ~NOTFOUND",
                         "--dump-dom", "file://" + file},
                        {"HOME=" + dir}};
  auto code = browser.wait(std::chrono::seconds(90));
  INFO(browser.drain_stderr());
  REQUIRE(code.has_value()); // else the destructor kills it
  REQUIRE(*code == 0);
  return browser.drain_stdout();
}

// Each polyline of class `cls` in the DOM: its number of points.
std::vector<size_t> polylines(const std::string& dom, const std::string& cls) {
  std::vector<size_t> out;
  std::regex re("<polyline class=\"" + cls + " [^\"]*\"[^>]* points=\"([^\"]*)\"");
  for (std::sregex_iterator it(dom.begin(), dom.end(), re), end; it != end; ++it) {
    std::istringstream pts((*it)[1].str());
    std::string p;
    size_t n = 0;
    while (pts >> p)
      ++n;
    out.push_back(n);
  }
  return out;
}

// The part of the DOM from the n-th chart of class `cls` to its </svg>.
std::string chart(const std::string& dom, const std::string& cls, size_t n) {
  size_t at = 0;
  for (size_t i = 0; i <= n; ++i) {
    at = dom.find("<svg class=\"chart " + cls + "\"", i == 0 ? 0 : at + 1);
    REQUIRE(at != std::string::npos);
  }
  return dom.substr(at, dom.find("</svg>", at) - at);
}

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("chromium renders a real run's report.html with every point") {
  auto dir = make_temp_dir();
  auto sim = start_sim({"--seed", "3", "--latency-ms", "20", "--jitter-ms",
                        "60"});
  test_config c;
  c.base_url = sim.base_url();
  c.num_batches = 60;
  c.n = 4;
  c.pool = 8;
  auto cfg = write_config(dir, c);
  auto r = run_cli({"datagen", "generate-names", "--config", cfg, "--quiet"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto report = json::parse(read_file(dir + "/out/report.json"));
  REQUIRE(report["jobs"].size() == 2);
  auto dom = dump_dom(dir, dir + "/out/report.html");
  CHECK(dom.find("<script") == std::string::npos);
  CHECK(count_of(dom, "<div class=\"cols pair\">") == 1); // FIM | L2R
  CHECK(count_of(dom, "<svg class=\"chart discovery\"") == 2);
  CHECK(count_of(dom, "<svg class=\"chart latency\"") == 2);
  CHECK(count_of(dom, "<svg class=\"chart throughput\"") == 2);
  // Jobs appear in the report's order within the pair (FIM first).
  std::vector<size_t> curves, bins;
  for (auto& job : report["jobs"]) {
    curves.push_back(job["series"]["curve"]["choices"].size());
    bins.push_back(job["series"]["responses"].size());
  }
  CHECK(curves[0] == 61); // the origin, then one point per request written
  CHECK(polylines(dom, "curve") == curves);
  CHECK(polylines(dom, "rps") == bins);
  CHECK(polylines(dom, "inflight") == bins);
  for (size_t j = 0; j < 2; ++j) {
    // Every attempt is in a latency bar.
    auto lat = chart(dom, "latency", j);
    std::regex bar("<rect class=\"bar\" data-n=\"(\\d+)\"");
    uint64_t in_bars = 0;
    for (std::sregex_iterator it(lat.begin(), lat.end(), bar), end; it != end; ++it)
      in_bars += std::stoull((*it)[1].str());
    CHECK(in_bars == report["jobs"][j]["attempts"].get<uint64_t>());
    CHECK(count_of(lat, "<line class=\"mark p") == 3);
  }
  // The total row's percentiles are real numbers, not 0.
  auto total = dom.substr(dom.find("<tr class=\"total-row\">"));
  total = total.substr(0, total.find("</tr>"));
  auto p50 = report["total"]["latency_ms"]["p50"].get<double>();
  CHECK(p50 > 10);
  CHECK(total.find("<td>0</td><td>0</td><td>0</td>") == std::string::npos);
}

TEST_CASE("chromium: a hostile name stays text, no element comes of it") {
  auto dir = make_temp_dir();
  json doc = {{"jobs", json::array({{{"name", "</svg><script>alert(1)</script>"},
                                     {"mode", "fim"},
                                     {"top_names",
                                      json::array({{{"name", "<img src=x onerror=alert(2)>"},
                                                    {"count", 3}}})}}})},
              {"ab", json::array()},
              {"interrupted", false}};
  write_file(dir + "/hostile.html", evo::render_report_html(doc));
  auto dom = dump_dom(dir, dir + "/hostile.html");
  CHECK(dom.find("<script") == std::string::npos);
  CHECK(dom.find("<img") == std::string::npos);
  CHECK(dom.find("&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
        != std::string::npos);
  CHECK(dom.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
  CHECK(count_of(dom, "<svg class=\"chart discovery\"") == 1); // page intact
}

int main(int argc, char** argv) {
  if (find_chromium().empty()) {
    std::puts("SKIPPED: chromium not found (PATH or $EVO_CHROMIUM): report.html "
              "was not checked in a browser; install Debian's chromium");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
