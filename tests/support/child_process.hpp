// Test helper: run a child process with its stdout/stderr captured, and start
// the simulator executable. Both pipes are drained with poll() whenever the
// helper waits, so a child writing a lot to either never blocks on a full pipe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace evo::test {

class child_process {  // fork+exec, stdout and stderr captured via pipes
 public:
  // argv[0] is the program (searched in PATH when it has no '/').
  // extra_env: "KEY=VALUE" entries added to (or replacing in) the environment.
  // cwd: working directory of the child ("" = inherit).
  // Throws std::runtime_error when the program cannot be started.
  child_process(std::vector<std::string> argv, std::vector<std::string> extra_env = {}, std::string cwd = "");
  ~child_process();  // SIGKILL + wait if still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const;
  // Next stdout line (without '\n'); at EOF a final unterminated line is
  // returned; nullopt on timeout or EOF with nothing left.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  void signal(int sig);  // no-op once the child has been reaped
  // Exit code (128+sig if killed by a signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();  // not yet exited (reaps if it has)
  std::string drain_stdout();  // everything not yet read (reads what is available now; all of it after exit)
  std::string drain_stderr();

 private:
  // Read what is available from the pipes, waiting at most `timeout` for
  // something to happen. Returns false when nothing can happen any more.
  bool pump(std::chrono::milliseconds timeout);
  bool try_reap();

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1, pidfd_ = -1;
  std::string out_buf_, err_buf_;
  std::optional<int> exit_code_;
};

// Starts build/evoselfcode-sim with args (plus --port 0), waits for
// "listening on 127.0.0.1:PORT", returns {process, port}. The binary is
// EVO_BINARY_DIR/evoselfcode-sim, or $EVO_SIM_BINARY when set.
struct running_sim {
  std::unique_ptr<child_process> proc;
  int port = 0;
  std::string base_url() const;  // "http://127.0.0.1:PORT/v1"
};
running_sim start_sim(std::vector<std::string> args = {});

std::string make_temp_dir();  // mkdtemp under /tmp, for test outputs

}  // namespace evo::test
