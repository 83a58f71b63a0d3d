#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace evo::test {
namespace {

using clock_type = std::chrono::steady_clock;

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Read everything available now from a non-blocking fd; closes it at EOF.
void read_available(int& fd, std::string& buf) {
  char tmp[65536];
  while (fd >= 0) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n > 0) {
      buf.append(tmp, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_fd(fd);  // EOF or error
  }
}

}  // namespace

child_process::child_process(std::vector<std::string> argv, std::vector<std::string> extra_env, std::string cwd) {
  if (argv.empty()) throw std::invalid_argument("child_process: empty argv");
  // Everything the child needs is prepared before fork (only async-signal-safe
  // calls between fork and exec).
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    bool overridden = false;
    for (const auto& x : extra_env) {
      auto eq = x.find('=');
      if (eq != std::string::npos && kv.compare(0, eq + 1, x, 0, eq + 1) == 0) overridden = true;
    }
    if (!overridden) env.push_back(std::move(kv));
  }
  for (const auto& x : extra_env) env.push_back(x);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out[2], err[2], exec_err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("child_process: pipe failed");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]);
    throw std::runtime_error("child_process: pipe failed");
  }
  if (::pipe2(exec_err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]), ::close(err[0]), ::close(err[1]);
    throw std::runtime_error("child_process: pipe failed");
  }
  const bool search_path = argv[0].find('/') == std::string::npos;

  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], err[0], err[1], exec_err[0], exec_err[1]}) ::close(fd);
    throw std::runtime_error(std::string("child_process: fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child. Reset what exec would otherwise inherit from the test process.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      int e = errno;
      (void)!::write(exec_err[1], &e, sizeof e);
      ::_exit(127);
    }
    if (search_path)
      ::execvpe(cargv[0], cargv.data(), cenv.data());
    else
      ::execve(cargv[0], cargv.data(), cenv.data());
    int e = errno;
    (void)!::write(exec_err[1], &e, sizeof e);
    ::_exit(127);
  }
  // Parent.
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_err[1]);
  pid_ = pid;
  out_fd_ = out[0];
  err_fd_ = err[0];
  ::fcntl(out_fd_, F_SETFL, ::fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(err_fd_, F_SETFL, ::fcntl(err_fd_, F_GETFL) | O_NONBLOCK);
  // exec succeeded iff the CLOEXEC pipe closes without data.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_err[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_err[0]);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    close_fd(out_fd_);
    close_fd(err_fd_);
    pid_ = -1;
    throw std::runtime_error("child_process: cannot start '" + argv[0] + "': " + std::strerror(child_errno));
  }
#ifdef SYS_pidfd_open
  pidfd_ = int(::syscall(SYS_pidfd_open, pid_, 0));  // -1 on old kernels: fall back to polling
#endif
}

child_process::~child_process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  close_fd(out_fd_);
  close_fd(err_fd_);
  close_fd(pidfd_);
}

pid_t child_process::pid() const { return pid_; }

bool child_process::try_reap() {
  if (exit_code_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = exit_code_of(status);
    close_fd(pidfd_);
    return true;
  }
  return false;
}

bool child_process::running() { return !try_reap(); }

bool child_process::pump(std::chrono::milliseconds timeout) {
  pollfd p[3];
  int n = 0;
  if (out_fd_ >= 0) p[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) p[n++] = {err_fd_, POLLIN, 0};
  const bool have_pidfd = pidfd_ >= 0 && !exit_code_;
  if (have_pidfd) p[n++] = {pidfd_, POLLIN, 0};
  if (n == 0) {
    // Both pipes closed: only the exit remains to wait for.
    if (exit_code_) return false;
    // No pidfd: re-check the exit after a short nap (bounded by timeout).
    ::poll(nullptr, 0, int(std::min<long long>(timeout.count(), 10)));
    try_reap();
    return true;
  }
  int ms = int(timeout.count());
  if (!have_pidfd && !exit_code_) ms = std::min(ms, 10);  // no exit notification: re-check often
  int r = ::poll(p, nfds_t(n), ms);
  if (r < 0 && errno != EINTR) return false;
  read_available(out_fd_, out_buf_);
  read_available(err_fd_, err_buf_);
  try_reap();
  return true;
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (true) {
    auto nl = out_buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      return line;
    }
    if (out_fd_ < 0) {  // EOF
      if (out_buf_.empty()) return std::nullopt;
      std::string line = std::move(out_buf_);
      out_buf_.clear();
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return std::nullopt;
    pump(left);
  }
}

void child_process::signal(int sig) {
  if (pid_ > 0 && !try_reap()) ::kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (!try_reap()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return std::nullopt;
    pump(left);
  }
  return exit_code_;
}

std::string child_process::drain_stdout() {
  // After exit, read to EOF (bounded: a grandchild may still hold the pipe).
  const auto deadline = clock_type::now() + std::chrono::seconds(2);
  read_available(out_fd_, out_buf_);
  while (exit_code_ && out_fd_ >= 0 && clock_type::now() < deadline) pump(std::chrono::milliseconds(50));
  std::string s = std::move(out_buf_);
  out_buf_.clear();
  return s;
}

std::string child_process::drain_stderr() {
  const auto deadline = clock_type::now() + std::chrono::seconds(2);
  read_available(err_fd_, err_buf_);
  while (exit_code_ && err_fd_ >= 0 && clock_type::now() < deadline) pump(std::chrono::milliseconds(50));
  std::string s = std::move(err_buf_);
  err_buf_.clear();
  return s;
}

std::string running_sim::base_url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }

running_sim start_sim(std::vector<std::string> args) {
  std::string bin;
  if (const char* e = std::getenv("EVO_SIM_BINARY"); e && *e) bin = e;
#ifdef EVO_BINARY_DIR
  if (bin.empty()) bin = std::string(EVO_BINARY_DIR) + "/evoselfcode-sim";
#endif
  if (bin.empty()) throw std::runtime_error("start_sim: EVO_BINARY_DIR not defined and EVO_SIM_BINARY not set");
  std::vector<std::string> argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--port");
  argv.push_back("0");
  running_sim s;
  s.proc = std::make_unique<child_process>(argv);
  auto line = s.proc->read_line(std::chrono::seconds(10));
  const std::string prefix = "listening on 127.0.0.1:";
  if (!line || line->compare(0, prefix.size(), prefix) != 0) {
    s.proc->signal(SIGKILL);
    s.proc->wait(std::chrono::seconds(5));
    throw std::runtime_error("start_sim: expected '" + prefix + "PORT', got '" + line.value_or("<nothing>") +
                             "'; stderr: " + s.proc->drain_stderr());
  }
  s.port = std::atoi(line->c_str() + prefix.size());
  if (s.port <= 0) throw std::runtime_error("start_sim: bad port in '" + *line + "'");
  return s;
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/evo-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error(std::string("make_temp_dir: ") + std::strerror(errno));
  return tmpl;
}

}  // namespace evo::test
