// Token budget: at most `budget` model tokens (prompt + completion) in any
// sliding window (60 s + a margin for the way to the server). A request
// reserves its worst case before it goes (its prompt plus max_tokens x n);
// the answer's usage corrects the reservation, usually downwards, which
// frees room at once. A reservation fits only whole, so the window never
// holds more than the budget in reservations; only an answer that used more
// than was reserved (a prompt estimated too low) can overshoot. Time is
// passed in, so tests drive it with an injected clock. No CAF.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace evo {

class token_budget {
public:
  using clock = std::chrono::steady_clock;

  /// Time between a reservation and its request's arrival at the server
  /// that the window absorbs (a server's 60 s window then never sees two
  /// minutes' worth of reservations).
  static constexpr std::chrono::milliseconds default_margin{200};
  static constexpr std::chrono::seconds minute{60};

  explicit token_budget(uint64_t budget,
                        clock::duration window = minute + default_margin);

  /// How many of `want` reservations of `each` tokens fit at `now`.
  uint32_t fits(uint32_t want, uint64_t each, clock::time_point now);
  /// Records `count` reservations of `each` tokens at `now` (the caller
  /// checked fits()); returns the id that corrections name.
  uint64_t reserve(uint32_t count, uint64_t each, clock::time_point now);
  /// One reservation of `reserved` tokens under `id` turned out to use
  /// `used`: the window holds `used` instead from now on (an expired
  /// reservation is only counted in the totals).
  void correct(uint64_t id, uint64_t reserved, uint64_t used,
               clock::time_point now);
  /// Time from `now` until `each` tokens fit (zero if they do); max() when
  /// they never can (more than the budget).
  clock::duration time_until(uint64_t each, clock::time_point now);
  /// Tokens reserved or used in the window ending at `now`.
  uint64_t in_window(clock::time_point now);

  uint64_t budget() const { return budget_; }
  /// Every reservation ever made, in tokens.
  uint64_t reserved_total() const { return reserved_total_; }
  /// What corrected reservations turned out to use.
  uint64_t used_total() const { return used_total_; }
  /// What those corrected reservations had reserved.
  uint64_t corrected_reserved_total() const { return corrected_reserved_; }

private:
  struct entry {
    clock::time_point at;
    uint64_t id;
    uint64_t tokens;
  };
  void expire(clock::time_point now);

  uint64_t budget_;
  clock::duration window_;
  std::deque<entry> entries_; ///< ids consecutive, oldest first
  uint64_t next_id_ = 1;
  uint64_t sum_ = 0; ///< tokens of entries_
  uint64_t reserved_total_ = 0;
  uint64_t used_total_ = 0;
  uint64_t corrected_reserved_ = 0;
};

/// What one request body reserves: its prompt (estimated from the prompt's
/// text, one token per 4 bytes rounded up, until a first answer tells) and
/// its most completion tokens (max_tokens x n).
struct body_reservation {
  uint64_t prompt_bytes = 0;
  uint64_t prompt_estimate = 0;
  uint64_t max_completion = 0; ///< 0 when the body sets no max_tokens
  bool bounded = false;        ///< the body sets max_tokens
};

/// Reads prompt / suffix / messages[].content and max_tokens (or
/// max_completion_tokens) and n of an OpenAI request body.
body_reservation reservation_of(const std::string& body);

/// Reservations the coordinator holds: granted in batches (one id per
/// batch), spent one per dispatched request, oldest first.
class held_reservations {
public:
  struct one {
    uint64_t id = 0;
    uint64_t each = 0;
  };
  void add(uint64_t id, uint64_t each, uint32_t count);
  /// Takes one (the caller checked count() > 0).
  one take();
  /// Drops the oldest until `count` are left (tokens paid as debt).
  void keep(uint64_t count);
  uint64_t count() const { return count_; }

private:
  struct batch {
    one r;
    uint32_t left;
  };
  std::deque<batch> batches_;
  uint64_t count_ = 0;
};

} // namespace evo
