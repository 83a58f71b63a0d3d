#include "actors/writer/output_folder.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace evo {

output_folder::output_folder(std::string dir, std::string mode,
                             choice_sieve sieve)
  : dir_(std::move(dir)), mode_(std::move(mode)), sieve_(std::move(sieve)) {
  dir_fd_ = open_output_dir(dir_);
  try {
    names_.emplace(dir_fd_, "names.jsonl", dir_ + "/names.jsonl");
    hashes_.emplace(dir_fd_, "hash_table.txt", dir_ + "/hash_table.txt");
    load_existing();
  } catch (...) {
    ::close(dir_fd_); // no destructor runs for a throwing constructor
    throw;
  }
}

output_folder::~output_folder() {
  if (dir_fd_ >= 0)
    ::close(dir_fd_);
}

void output_folder::load_existing() {
  // This folder's own keys (a shared set may also hold other folders').
  dedupe_set mine;
  for_each_line(hashes_->load(), [&](std::string_view line) {
    uint64_t key;
    if (parse_uid(line, key))
      mine.insert(key);
  });
  // names.jsonl is written before hash_table.txt: a crash between the two
  // leaves uids only in names.jsonl. Take them from there and complete the
  // hash table, so the folder never gets a record twice.
  std::string missing;
  near_dedupe* near = sieve_.near();
  for_each_line(names_->load(), [&](std::string_view line) {
    if (near != nullptr) {
      // The folder's texts are compared with new ones as if kept this run.
      auto rec = nlohmann::json::parse(line, nullptr, false);
      if (rec.is_object() && rec.contains("problem_description")
          && rec["problem_description"].is_string())
        near->remember(rec["problem_description"].get<std::string>());
    }
    uint64_t key;
    if (line.substr(0, record_uid_prefix.size()) == record_uid_prefix
        && parse_uid(line.substr(record_uid_prefix.size(), 16), key)
        && mine.insert(key)) {
      missing += uid_hex(key);
      missing += '\n';
    }
  });
  if (!missing.empty())
    hashes_->append(missing);
  if (sieve_.canonical())
    preload_canonical();
  else
    mine.for_each([this](uint64_t key) { sieve_.preload(key); });
  preexisting_ = mine.size();
  count_ = preexisting_;
}

void output_folder::preload_canonical() {
  // The set is keyed by each name's words: only the records know the names.
  for_each_line(names_->load(), [&](std::string_view line) {
    auto rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_object())
      return;
    auto uid = rec.find("uid");
    auto name = rec.find("func_name");
    uint64_t key;
    if (uid != rec.end() && uid->is_string() && name != rec.end()
        && name->is_string() && parse_uid(uid->get<std::string>(), key))
      sieve_.preload(key, name->get<std::string>());
  });
}

write_stats output_folder::stage(uint64_t request_index, std::string_view model,
                                 const std::vector<std::string>& choices) {
  kept_.clear();
  auto st = sieve_.sift(choices, kept_);
  if (kept_.empty())
    return st;
  auto stamp = utc_timestamp();
  record_origin origin{mode_, model, request_index, stamp};
  bool texts = sieve_.keeps_texts();
  for (auto& k : kept_) {
    auto uid = uid_hex(k.key);
    auto& raw = choices[k.choice_index];
    if (texts)
      append_text_record(buf_, origin, k.choice_index, uid, k.text, raw);
    else
      append_name_record(buf_, origin, k.choice_index, uid, k.text, raw);
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
    names_->append(buf_);
    hashes_->append(uids_);
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
  if (!failures_)
    failures_.emplace(dir_fd_, "failures.jsonl", dir_ + "/failures.jsonl");
  std::string line;
  append_failure_line(line, mode_, rec, utc_timestamp());
  failures_->append(line);
}

} // namespace evo
