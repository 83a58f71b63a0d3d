#include "actors/writer/run_journal.hpp"

#include <fcntl.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actors/writer/json_write.hpp"

namespace evo {

namespace {

std::string describe_jobs(const std::vector<std::string>& jobs) {
  std::string out;
  for (auto& j : jobs)
    out += (out.empty() ? "" : ", ") + j;
  return out;
}

} // namespace

run_journal::run_journal(std::string path, const std::vector<std::string>& jobs,
                         bool resume)
  : path_(std::move(path)),
    file_(std::make_unique<jsonl_file>(AT_FDCWD, path_, path_)) {
  std::string data = file_->read_all();
  if (!data.empty() && !resume)
    throw journal_conflict(path_ + " exists: the output folder holds another "
                           "run; continue it with --resume or choose another "
                           "--out");
  file_->cut_torn_tail(data);
  size_t lineno = 0;
  bool header_seen = false;
  for_each_line(data, [&](std::string_view line) {
    ++lineno;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw output_error(path_ + ":" + std::to_string(lineno)
                         + ": not a journal line");
    if (!header_seen) {
      auto names = j.find("jobs");
      if (names == j.end() || !names->is_array()
          || names->get<std::vector<std::string>>() != jobs)
        throw journal_conflict(
          path_ + ": the journal is of a run with other jobs; this run has: "
          + describe_jobs(jobs));
      header_seen = true;
      return;
    }
    auto job = j.value("job", std::string{});
    auto idx = j.find("index");
    if (job.empty() || idx == j.end() || !idx->is_number_unsigned())
      throw output_error(path_ + ":" + std::to_string(lineno)
                         + ": not a journal line");
    auto& entry = loaded_[job];
    entry.finished.push_back(idx->get<uint64_t>());
    if (!j.value("ok", true))
      ++entry.failed;
  });
  for (auto& [name, entry] : loaded_) {
    auto& f = entry.finished;
    std::sort(f.begin(), f.end());
    f.erase(std::unique(f.begin(), f.end()), f.end());
  }
  if (!header_seen) {
    std::string header = "{\"journal\":1,\"jobs\":[";
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (i > 0)
        header += ',';
      append_json_string(header, jobs[i]);
    }
    header += "]}\n";
    file_->append(header);
  }
}

run_journal::~run_journal() = default;

void run_journal::stage(const std::string& job, uint64_t index, bool ok) {
  line_ += "{\"job\":";
  append_json_string(line_, job);
  line_ += ",\"index\":";
  line_ += std::to_string(index);
  line_ += ok ? ",\"ok\":true}\n" : ",\"ok\":false}\n";
}

void run_journal::flush() {
  if (line_.empty())
    return;
  // One append; a failed one takes back what made it, leaving whole lines.
  std::string lines;
  lines.swap(line_);
  file_->append(lines);
}

} // namespace evo
