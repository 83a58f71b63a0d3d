#include "actors/writer/run_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "actors/writer/output_folder.hpp"

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
  : path_(std::move(path)) {
  std::string data;
  {
    std::ifstream in(path_, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      data = ss.str();
    }
  }
  if (!data.empty() && !resume)
    throw output_error(path_ + " exists: the output folder holds another "
                       "run; continue it with --resume or choose another --out");
  if (!data.empty() && data.back() != '\n') {
    auto keep = data.rfind('\n');
    data.resize(keep == std::string::npos ? 0 : keep + 1);
    if (::truncate(path_.c_str(), static_cast<off_t>(data.size())) != 0)
      throw output_error("cannot repair " + path_ + ": " + std::strerror(errno));
  }
  std::istringstream lines(data);
  std::string line;
  size_t lineno = 0;
  bool header_seen = false;
  while (std::getline(lines, line)) {
    ++lineno;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw output_error(path_ + ":" + std::to_string(lineno)
                         + ": not a journal line");
    if (!header_seen) {
      auto names = j.find("jobs");
      if (names == j.end() || !names->is_array()
          || names->get<std::vector<std::string>>() != jobs)
        throw output_error(
          path_ + ": the journal is of a run with other jobs; this run has: "
          + describe_jobs(jobs));
      header_seen = true;
      continue;
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
  }
  for (auto& [name, entry] : loaded_) {
    auto& f = entry.finished;
    std::sort(f.begin(), f.end());
    f.erase(std::unique(f.begin(), f.end()), f.end());
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw output_error("cannot open " + path_ + ": " + std::strerror(errno));
  if (!header_seen) {
    nlohmann::json header{{"journal", 1}, {"jobs", jobs}};
    auto line = header.dump() + "\n";
    if (::write(fd_, line.data(), line.size())
        != static_cast<ssize_t>(line.size())) {
      int err = errno;
      ::close(fd_); // no destructor runs for a throwing constructor
      fd_ = -1;
      throw output_error("cannot write " + path_ + ": " + std::strerror(err));
    }
  }
}

run_journal::~run_journal() {
  if (fd_ >= 0)
    ::close(fd_);
}

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
  // One write on an O_APPEND descriptor; a short one (disk full) leaves a
  // torn last line at worst, which the next open cuts.
  auto n = ::write(fd_, line_.data(), line_.size());
  auto size = line_.size();
  line_.clear();
  if (n != static_cast<ssize_t>(size))
    throw output_error("cannot write " + path_ + ": "
                       + std::strerror(n < 0 ? errno : ENOSPC));
}

} // namespace evo
