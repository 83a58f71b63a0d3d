#include "actors/writer/jsonl_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace evo {

namespace {

std::string sys_error(const std::string& what, const std::string& path,
                      int err) {
  return what + " " + path + ": " + std::strerror(err);
}

std::string link_refused(const std::string& path) {
  return "refusing to write through " + path
         + ": it is a symbolic link (remove it or choose another output "
           "folder)";
}

} // namespace

int open_output_dir(const std::string& given) {
  namespace fs = std::filesystem;
  // "out/fim/" would make the kernel follow a link at fim whatever the flags.
  std::string dir = given;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  fs::path p{dir};
  std::error_code ec;
  if (p.has_parent_path() && p.has_filename()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec)
      throw output_error("cannot create output folder " + dir + ": "
                         + ec.message());
  }
  // mkdir does not follow a link in the last component (EEXIST); the open
  // below refuses one.
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw output_error(sys_error("cannot create output folder", dir, errno));
  int fd = ::open(dir.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    struct stat st{};
    if ((err == ELOOP || err == ENOTDIR) && ::lstat(dir.c_str(), &st) == 0
        && S_ISLNK(st.st_mode))
      throw output_error(link_refused(dir));
    throw output_error(sys_error("cannot open output folder", dir, err));
  }
  return fd;
}

void write_report_file(int dir_fd, const std::string& name,
                       std::string_view bytes, const std::string& shown_dir) {
  auto path = shown_dir.empty() ? name : shown_dir + "/" + name;
  auto tmp_name = name + ".tmp";
  auto tmp = path + ".tmp";
  // A link or a regular file at either name: what lstat sees decides, the
  // name is never opened through a link.
  auto kind = [&](const std::string& n, const std::string& shown) -> int {
    struct stat st{};
    if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT)
        return 0;
      throw output_error(sys_error("cannot inspect", shown, errno));
    }
    if (S_ISLNK(st.st_mode))
      throw output_error(link_refused(shown));
    if (!S_ISREG(st.st_mode))
      throw output_error("refusing to write " + shown
                         + ": it is not a regular file");
    return 1;
  };
  kind(name, path);
  // A stale temp file (a crash between write and rename) is removed, not
  // truncated: it may be a hard link to a file that is not ours.
  if (kind(tmp_name, tmp) != 0 && ::unlinkat(dir_fd, tmp_name.c_str(), 0) != 0)
    throw output_error(sys_error("cannot remove", tmp, errno));
  int fd = ::openat(dir_fd, tmp_name.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    throw output_error(errno == ELOOP || errno == EEXIST
                         ? link_refused(tmp) // planted since the check
                         : sys_error("cannot create", tmp, errno));
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      ::unlinkat(dir_fd, tmp_name.c_str(), 0);
      throw output_error(sys_error("cannot write", tmp, err));
    }
    done += static_cast<size_t>(n);
  }
  // On disk before the rename, so the name never holds a torn file.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlinkat(dir_fd, tmp_name.c_str(), 0);
    throw output_error(sys_error("cannot write", tmp, err));
  }
  // rename replaces a link planted at `name` since the check instead of
  // writing through it.
  if (::renameat(dir_fd, tmp_name.c_str(), dir_fd, name.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dir_fd, tmp_name.c_str(), 0);
    throw output_error(sys_error("cannot rename " + tmp + " to", path, err));
  }
}

void write_report_file(const std::string& dir, const std::string& name,
                       std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw output_error("cannot create output folder " + dir + ": "
                       + ec.message());
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw output_error(sys_error("cannot open output folder", dir, errno));
  try {
    write_report_file(fd, name, bytes, dir);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

jsonl_file::jsonl_file(int dir_fd, const std::string& name, std::string path)
  : path_(std::move(path)) {
  // O_NONBLOCK: a FIFO planted there must not block the open (it is then
  // refused below); no effect on a regular file.
  fd_ = ::openat(dir_fd, name.c_str(),
                 O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK
                   | O_CLOEXEC,
                 0644);
  if (fd_ < 0) {
    if (errno == ELOOP)
      throw output_error(link_refused(path_));
    throw output_error(sys_error("cannot open", path_, errno));
  }
  struct stat st{};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_); // no destructor runs for a throwing constructor
    fd_ = -1;
    throw output_error("refusing to write " + path_
                       + ": it is not a regular file");
  }
}

jsonl_file::~jsonl_file() {
  if (fd_ >= 0)
    ::close(fd_);
}

std::string jsonl_file::read_all() const {
  std::string data;
  char chunk[65536];
  off_t at = 0;
  for (;;) {
    auto n = ::pread(fd_, chunk, sizeof(chunk), at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw output_error(sys_error("cannot read", path_, errno));
    if (n == 0)
      break;
    data.append(chunk, static_cast<size_t>(n));
    at += n;
  }
  return data;
}

void jsonl_file::cut_torn_tail(std::string& data) {
  if (data.empty() || data.back() == '\n')
    return;
  auto keep = data.rfind('\n');
  keep = keep == std::string::npos ? 0 : keep + 1;
  if (::ftruncate(fd_, static_cast<off_t>(keep)) != 0)
    throw output_error(sys_error("cannot repair", path_, errno));
  data.resize(keep);
}

void jsonl_file::append(std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      // Leave whole lines only: take back the part that made it. This
      // process is the file's only writer (O_APPEND), so the batch began
      // `done` bytes before the end; no lseek per batch on the good path.
      auto end = ::lseek(fd_, 0, SEEK_END);
      if (end >= 0 && done > 0)
        [[maybe_unused]] auto r
          = ::ftruncate(fd_, end - static_cast<off_t>(done));
      throw output_error(sys_error("cannot write", path_, err));
    }
    done += static_cast<size_t>(n);
  }
}

} // namespace evo
