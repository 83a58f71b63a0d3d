// The files the program writes, opened without following symbolic links:
// one append-only JSONL file (names.jsonl, hash_table.txt, failures.jsonl,
// journal.jsonl), read back whole on reopen with a torn last line cut off,
// appended to so that a failed write leaves whole lines only; and a report
// file replaced whole (report.json). POSIX, no CAF.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace evo {

/// Thrown when an output folder or file cannot be created, read or written;
/// what() names the path and the reason.
struct output_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Creates folder `dir` (parents included) and opens it. The parents are
/// the user's path and may be symbolic links; `dir` itself, the folder this
/// program makes, may not (a link there is refused). Returns a descriptor
/// to open the folder's files through; throws output_error.
int open_output_dir(const std::string& dir);

/// Replaces file `name` in the folder open as `dir_fd` with `bytes`, whole
/// or not at all: written to `name`.tmp (created afresh), flushed to disk,
/// then renamed over `name`. A symbolic link at either name, or anything
/// but a regular file at `name`, is refused (nothing is written through
/// it). `shown_dir` is how messages name the folder. Throws output_error.
void write_report_file(int dir_fd, const std::string& name,
                       std::string_view bytes, const std::string& shown_dir);
/// The same in folder `dir`, the user's output folder (created if needed;
/// links in its path are the user's and followed).
void write_report_file(const std::string& dir, const std::string& name,
                       std::string_view bytes);

class jsonl_file {
public:
  /// Opens (creating if needed) `name` inside the folder open as `dir_fd`
  /// (AT_FDCWD: relative to the working folder) for reading and appending.
  /// A symbolic link or anything but a regular file there is refused with
  /// output_error. `path` is how messages name the file.
  jsonl_file(int dir_fd, const std::string& name, std::string path);
  ~jsonl_file();
  jsonl_file(const jsonl_file&) = delete;
  jsonl_file& operator=(const jsonl_file&) = delete;

  /// The whole file as it is now.
  std::string read_all() const;
  /// Cuts a partial last line (a crash or a full disk mid-write) from the
  /// file and from `data` (what read_all() returned).
  void cut_torn_tail(std::string& data);
  /// read_all() then cut_torn_tail(): the file's whole lines.
  std::string load() {
    auto data = read_all();
    cut_torn_tail(data);
    return data;
  }

  /// Appends `data` (whole lines). On a failed write the part that made it
  /// is taken back, so the file still ends with a whole line; throws
  /// output_error.
  void append(std::string_view data);

  const std::string& path() const { return path_; }

private:
  std::string path_;
  int fd_ = -1;
};

/// Calls f(line) on every whole line of `data`, without its newline (a tail
/// without one is skipped).
template <class F>
void for_each_line(std::string_view data, F f) {
  size_t pos = 0;
  while (pos < data.size()) {
    auto eol = data.find('\n', pos);
    if (eol == std::string_view::npos)
      return;
    f(data.substr(pos, eol - pos));
    pos = eol + 1;
  }
}

} // namespace evo
