#include "actors/writer/output_folder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace evo {

namespace fs = std::filesystem;

namespace {

std::string sys_error(const std::string& what, const std::string& path,
                      int err) {
  return what + " " + path + ": " + std::strerror(err);
}

int open_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0644);
  if (fd < 0)
    throw output_error(sys_error("cannot open", path, errno));
  return fd;
}

// Reads a whole file; empty when it does not exist.
std::string read_file(const std::string& path) {
  std::string data;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return data;
    throw output_error(sys_error("cannot read", path, errno));
  }
  char chunk[65536];
  for (;;) {
    auto n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw output_error(sys_error("cannot read", path, err));
    }
    if (n == 0)
      break;
    data.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

// A crash in the middle of a write (disk full, kill during a huge write)
// can leave a partial last line; cut the file back to its last newline.
void cut_torn_tail(const std::string& path, const std::string& data) {
  if (data.empty() || data.back() == '\n')
    return;
  auto keep = data.rfind('\n');
  keep = keep == std::string::npos ? 0 : keep + 1;
  if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
    throw output_error(sys_error("cannot repair", path, errno));
}

// Calls f on every whole line of `data` (a torn tail is skipped).
template <class F>
void for_each_line(const std::string& data, F f) {
  size_t pos = 0;
  while (pos < data.size()) {
    auto eol = data.find('\n', pos);
    if (eol == std::string::npos)
      return;
    f(std::string_view{data}.substr(pos, eol - pos));
    pos = eol + 1;
  }
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              now.time_since_epoch())
              .count()
            % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

output_folder::output_folder(std::string dir, std::string mode,
                             name_filter filter,
                             std::shared_ptr<dedupe_set> seen)
  : dir_(std::move(dir)), mode_(std::move(mode)), filter_(std::move(filter)),
    seen_(seen ? std::move(seen) : std::make_shared<dedupe_set>()) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    throw output_error("cannot create output folder " + dir_ + ": "
                       + ec.message());
  load_existing();
  names_fd_ = open_append(dir_ + "/names.jsonl");
  hashes_fd_ = open_append(dir_ + "/hash_table.txt");
}

output_folder::~output_folder() {
  for (int fd : {names_fd_, hashes_fd_, failures_fd_})
    if (fd >= 0)
      ::close(fd);
}

void output_folder::load_existing() {
  auto hash_path = dir_ + "/hash_table.txt";
  auto names_path = dir_ + "/names.jsonl";
  // This folder's own keys (a shared set may also hold other folders').
  dedupe_set mine;
  auto hashes = read_file(hash_path);
  cut_torn_tail(hash_path, hashes);
  for_each_line(hashes, [&](std::string_view line) {
    uint64_t key;
    if (parse_uid(line, key))
      mine.insert(key);
  });
  // names.jsonl is written before hash_table.txt: a crash between the two
  // leaves uids only in names.jsonl. Take them from there and complete the
  // hash table, so the folder never gets a name twice.
  auto names = read_file(names_path);
  cut_torn_tail(names_path, names);
  static constexpr std::string_view uid_field = "{\"uid\":\"";
  std::string missing;
  for_each_line(names, [&](std::string_view line) {
    uint64_t key;
    if (line.substr(0, uid_field.size()) == uid_field
        && parse_uid(line.substr(uid_field.size(), 16), key)
        && mine.insert(key)) {
      missing += uid_hex(key);
      missing += '\n';
    }
  });
  if (!missing.empty()) {
    int fd = open_append(hash_path);
    try {
      append(fd, hash_path, missing);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  }
  mine.for_each([this](uint64_t key) { seen_->insert(key); });
  preexisting_ = mine.size();
  count_ = preexisting_;
}

void output_folder::append(int fd, const std::string& path,
                           const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      // Leave whole lines only: take back the part that made it. This
      // process is the file's only writer (O_APPEND), so the batch began
      // `done` bytes before the end; no lseek per batch on the good path.
      auto end = ::lseek(fd, 0, SEEK_END);
      if (end >= 0 && done > 0)
        [[maybe_unused]] auto r
          = ::ftruncate(fd, end - static_cast<off_t>(done));
      throw output_error(sys_error("cannot write", path, err));
    }
    done += static_cast<size_t>(n);
  }
}

write_stats output_folder::stage(uint64_t request_index, std::string_view model,
                                 const std::vector<std::string>& choices) {
  write_stats st;
  st.choices = static_cast<uint32_t>(choices.size());
  std::string stamp;
  for (size_t i = 0; i < choices.size(); ++i) {
    auto name = extract_name(choices[i]);
    switch (filter_.check(name)) {
      case name_verdict::empty: ++st.filtered_empty; continue;
      case name_verdict::regex: ++st.filtered_regex; continue;
      case name_verdict::weak: ++st.filtered_weak; continue;
      case name_verdict::kept: break;
    }
    auto key = name_key(name);
    if (!seen_->insert(key)) {
      ++st.duplicates;
      continue;
    }
    ++st.kept;
    if (stamp.empty())
      stamp = utc_timestamp();
    auto uid = uid_hex(key);
    // "uid" first: reopening finds it without a JSON parser.
    buf_ += "{\"uid\":\"";
    buf_ += uid;
    buf_ += "\",\"func_name\":";
    append_json_string(buf_, name);
    buf_ += ",\"mode\":";
    append_json_string(buf_, mode_);
    buf_ += ",\"raw_text\":";
    append_json_string(buf_, choices[i]);
    buf_ += ",\"model\":";
    append_json_string(buf_, model);
    buf_ += ",\"request_index\":";
    buf_ += std::to_string(request_index);
    buf_ += ",\"choice_index\":";
    buf_ += std::to_string(i);
    buf_ += ",\"timestamp\":\"";
    buf_ += stamp;
    buf_ += "\"}\n";
    uids_ += uid;
    uids_ += '\n';
  }
  staged_ += st.kept;
  return st;
}

void output_folder::flush() {
  if (buf_.empty())
    return;
  // An output error ends the run (the writer reports it), so the keys
  // already inserted by stage() need no rollback.
  try {
    append(names_fd_, dir_ + "/names.jsonl", buf_);
    append(hashes_fd_, dir_ + "/hash_table.txt", uids_);
  } catch (...) {
    buf_.clear();
    uids_.clear();
    staged_ = 0;
    throw;
  }
  buf_.clear(); // keeps its capacity
  uids_.clear();
  count_ += staged_;
  staged_ = 0;
}

void output_folder::record_failure(const failure_record& rec) {
  auto path = dir_ + "/failures.jsonl";
  if (failures_fd_ < 0)
    failures_fd_ = open_append(path);
  std::string line = "{\"mode\":";
  append_json_string(line, mode_);
  line += ",\"request_index\":" + std::to_string(rec.index);
  line += ",\"attempts\":" + std::to_string(rec.attempts);
  line += ",\"http_status\":" + std::to_string(rec.http_status);
  line += ",\"failure\":";
  append_json_string(line, to_string(rec.failure));
  line += ",\"reason\":";
  append_json_string(line, rec.reason);
  line += ",\"timestamp\":\"" + utc_timestamp() + "\"}\n";
  append(failures_fd_, path, line);
}

} // namespace evo
