// SIGINT and SIGTERM as stop requests for a run: the first asks it to stop
// cleanly, the second to stop at once, a third ends the process. Signals are
// taken by one thread (sigwait), so handlers run as plain code.
#pragma once

#include <functional>

namespace evo {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts later (call in main before any other thread exists), and starts
/// the thread that waits for them. Until a handler is set, a signal ends
/// the process as it would have (exit status 128 + signal).
void install_stop_signals();

/// What a stop signal does: `fn(signal, count)`, count 1 for the first, 2
/// for the second. An empty function restores the default.
void on_stop_signal(std::function<void(int, int)> fn);

/// The first stop signal received (SIGINT or SIGTERM), 0 when none.
int stop_signal();

class client;

/// While it lives, stop signals stop `c`'s run (the first cleanly, the
/// second at once).
struct stop_signal_scope {
  explicit stop_signal_scope(client& c);
  ~stop_signal_scope();
  stop_signal_scope(const stop_signal_scope&) = delete;
  stop_signal_scope& operator=(const stop_signal_scope&) = delete;
};

/// Exit status of a run stopped by `signal`: 128 + signal (130, 143).
inline int exit_status_for_signal(int signal) {
  return 128 + signal;
}

} // namespace evo
