#include "tests/integration/cli_harness.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace evo::test {

cli_result run_cli(std::vector<std::string> args, std::vector<std::string> env,
                   std::chrono::seconds limit) {
  args.insert(args.begin(), std::string{EVO_BINARY_DIR} + "/evoselfcode");
  child_process proc{args, env};
  cli_result r;
  auto code = proc.wait(limit);
  if (!code) {
    proc.signal(SIGKILL);
    code = proc.wait(std::chrono::seconds(5));
    FAIL_CHECK("evoselfcode did not finish within the limit");
  }
  r.exit_code = code.value_or(-1);
  r.out = proc.drain_stdout();
  r.err = proc.drain_stderr();
  return r;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  REQUIRE(f.good());
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    lines.push_back(line);
  return lines;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string write_config(const std::string& dir, const test_config& c) {
  std::ostringstream model;
  model << "api:\n"
        << "  base_url: \"" << c.base_url << "\"\n"
        << "  timeout_s: 5\n"
        << "  max_retries: " << c.max_retries << "\n"
        << "  backoff_base_s: " << c.backoff_base_s << "\n"
        << "  concurrency:\n"
        << "    max_concurrent_requests: " << c.pool << "\n"
        << (c.semaphore ? "    semaphore_size: " + std::to_string(c.pool) + "\n"
                        : std::string{})
        << c.api_extra << "models:\n  default: \"test-model\"\n";
  write_file(dir + "/model.yaml", model.str());
  std::ostringstream datagen;
  datagen << "model_config: model.yaml\n"
          << "namegen:\n"
          << "  temperature: 1.0\n"
          << "  n: " << c.n << "\n"
          << "  num_batches: " << c.num_batches << "\n"
          << "  max_new_tokens: 16\n"
          << "  weaklist: [main, solve]\n"
          << c.namegen_extra << "filters:\n"
          << "  name_regex: \"^[a-z_][a-z0-9_]{2,63}$\"\n"
          << "io:\n  out_names_dir: " << dir << "/out\n"
          << c.top_extra;
  write_file(dir + "/datagen.yaml", datagen.str());
  return dir + "/datagen.yaml";
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  auto text = read_file(path);
  if (!text.empty())
    CHECK_MESSAGE(text.back() == '\n', path << " ends in a torn line");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    CHECK_MESSAGE(!j.is_discarded(), path << ": not JSON: " << line);
    if (!j.is_discarded())
      out.push_back(std::move(j));
  }
  return out;
}

std::map<std::string, std::set<uint64_t>> journal_items(const std::string& path,
                                                        size_t* lines) {
  std::map<std::string, std::set<uint64_t>> items;
  size_t n = 0;
  for (auto& line : read_lines(path)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("journal"))
      continue;
    ++n;
    items[j["job"].get<std::string>()].insert(j["index"].get<uint64_t>());
  }
  if (lines)
    *lines = n;
  return items;
}

std::vector<nlohmann::json> read_sim_log(const std::string& path) {
  std::vector<nlohmann::json> out;
  for (auto& line : read_lines(path)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded())
      out.push_back(std::move(j));
  }
  return out;
}

} // namespace evo::test
