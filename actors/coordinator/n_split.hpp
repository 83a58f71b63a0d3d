// When a server refuses or caps "n" (choices per request): read its largest
// n from the refusal or from fewer choices than asked, send each planned
// request as parts whose n add up, and gather the parts' choices back into
// the one planned item. Plain class, no CAF: the coordinator feeds it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/coordinator/scheduler.hpp"
#include "messages/work.hpp"

namespace evo {

/// The largest n a server's refusal names, e.g. llama.cpp's "Field 'n':
/// Value must be between 1 <= value <= 4, but got 8", or "n must be at most
/// 4" / "'n' must be <= 4"; nullopt when the text is no such refusal.
std::optional<uint32_t> parse_n_limit(std::string_view text);

/// `n` cut into parts of at most `max_n` (0 = no cap), largest first:
/// (8, 4) -> {4, 4}; (10, 4) -> {4, 4, 2}; (3, 0) -> {3}.
std::vector<uint32_t> split_n(uint32_t n, uint32_t max_n);

/// "n" of a request body (1 when absent or not a positive integer).
uint32_t body_n(std::string_view body);

/// The request body with "n" set to `n`, every other key unchanged.
std::string body_with_n(std::string_view body, uint32_t n);

class n_splitter {
public:
  using item = scheduler::item;

  /// A planned item once all its parts are back.
  struct gathered {
    std::vector<std::string> choices;
    std::string model;
    uint64_t prompt_tokens = 0;
    uint64_t completion_tokens = 0;
    /// A part failed for good: the item is recorded as failed with these.
    bool failed = false;
    uint32_t attempts = 0;
    int32_t http_status = 0;
    failure_kind failure = failure_kind::none;
    std::string detail;
  };

  /// `job_bodies`: the body each job sends (its "n" is the planned n).
  explicit n_splitter(const std::vector<std::string>& job_bodies);

  /// The server's largest n as learned so far (0 = none seen).
  uint32_t max_n() const { return max_n_; }
  /// The n this attempt asks for.
  uint32_t asked(const item& it) const;
  /// The body to send for this attempt (the job's own when it asks the
  /// job's n).
  const std::string& body(const item& it, const std::string& job_body);

  /// When `it` asks more than the server takes: `it` becomes the first part
  /// and the other parts are returned, to be queued; else nothing changes.
  std::vector<item> split(item& it);
  /// A failed attempt: true when it was a refusal naming a smaller largest
  /// n (learned now); the attempt is then to be queued again as it is (the
  /// next split() cuts it), not counted as a failure.
  bool refused(const item& it, int32_t http_status, std::string_view detail);
  /// A successful attempt with its choices. Fewer choices than asked
  /// teach the server's cap; the rest goes out as parts returned in
  /// `more`. Gives the whole item once its last part is in.
  std::optional<gathered> answered(const item& it, attempt_result& r,
                                   std::vector<item>& more);
  /// A part (or a whole item) failed for good: gives the failed item once
  /// no other part of it is out.
  std::optional<gathered> failed(const item& it, attempt_result& r);

  /// Once the cap is known: one line per distinct planned n that is split,
  /// e.g. "server caps n at 4 (it refused n 8): each request of n 8 sent as
  /// 2 requests"; empty otherwise.
  std::vector<std::string> notes() const;

private:
  using key = std::pair<uint32_t, uint64_t>;
  struct pending {
    gathered g;
    uint32_t parts_out = 1;
  };
  /// Registers `more` parts of the item beyond the one(s) already out.
  void expect(const item& it, size_t more);
  void learn(uint32_t limit, const char* how);

  std::vector<uint32_t> job_n_;
  uint32_t max_n_ = 0;
  std::string learned_how_;
  std::map<key, pending> pending_;
  std::map<std::pair<uint32_t, uint32_t>, std::string> bodies_;
};

} // namespace evo
