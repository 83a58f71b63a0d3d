#include "actors/rate_limiter/token_budget.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace evo {

token_budget::token_budget(uint64_t budget, clock::duration window)
  : budget_(budget), window_(window) {
  // nop
}

void token_budget::expire(clock::time_point now) {
  while (!entries_.empty() && entries_.front().at + window_ <= now) {
    sum_ -= entries_.front().tokens;
    entries_.pop_front();
  }
}

uint64_t token_budget::in_window(clock::time_point now) {
  expire(now);
  return sum_;
}

uint32_t token_budget::fits(uint32_t want, uint64_t each,
                            clock::time_point now) {
  expire(now);
  if (sum_ >= budget_)
    return 0;
  auto room = budget_ - sum_;
  if (each == 0)
    return want;
  return static_cast<uint32_t>(std::min<uint64_t>(want, room / each));
}

uint64_t token_budget::reserve(uint32_t count, uint64_t each,
                               clock::time_point now) {
  expire(now);
  auto tokens = static_cast<uint64_t>(count) * each;
  auto id = next_id_++;
  entries_.push_back({now, id, tokens});
  sum_ += tokens;
  reserved_total_ += tokens;
  return id;
}

void token_budget::correct(uint64_t id, uint64_t reserved, uint64_t used,
                           clock::time_point now) {
  used_total_ += used;
  corrected_reserved_ += reserved;
  expire(now);
  if (entries_.empty() || id < entries_.front().id)
    return; // out of the window already: it limits nothing any more
  auto idx = id - entries_.front().id;
  if (idx >= entries_.size())
    return;
  auto& e = entries_[idx];
  // Never below zero, even if a reservation were corrected twice.
  auto after = e.tokens - std::min(e.tokens, reserved) + used;
  sum_ = sum_ - e.tokens + after;
  e.tokens = after;
}

token_budget::clock::duration
token_budget::time_until(uint64_t each, clock::time_point now) {
  if (each > budget_)
    return clock::duration::max();
  expire(now);
  if (sum_ + each <= budget_)
    return clock::duration{0};
  auto excess = sum_ + each - budget_;
  uint64_t freed = 0;
  for (auto& e : entries_) {
    freed += e.tokens;
    if (freed >= excess)
      return e.at + window_ - now;
  }
  return entries_.back().at + window_ - now; // not reached: each <= budget
}

// -- reservation_of -----------------------------------------------------------

namespace {

uint64_t text_bytes(const nlohmann::json& v) {
  if (v.is_string())
    return v.get_ref<const std::string&>().size();
  uint64_t n = 0;
  if (v.is_array())
    for (auto& x : v) {
      if (x.is_string())
        n += x.get_ref<const std::string&>().size();
      else if (x.is_object()) // a content part: {"type":"text","text":...}
        if (auto t = x.find("text"); t != x.end())
          n += text_bytes(*t);
    }
  return n;
}

} // namespace

body_reservation reservation_of(const std::string& body) {
  body_reservation out;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object())
    return out;
  for (const char* key : {"prompt", "suffix"})
    if (auto p = j.find(key); p != j.end())
      out.prompt_bytes += text_bytes(*p);
  if (auto m = j.find("messages"); m != j.end() && m->is_array())
    for (auto& msg : *m)
      if (msg.is_object())
        if (auto c = msg.find("content"); c != msg.end())
          out.prompt_bytes += text_bytes(*c);
  out.prompt_estimate = (out.prompt_bytes + 3) / 4;
  uint64_t n = 1;
  if (auto v = j.find("n"); v != j.end() && v->is_number_unsigned())
    n = std::max<uint64_t>(1, v->get<uint64_t>());
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (auto v = j.find(key); v != j.end() && v->is_number_unsigned()) {
      out.max_completion = v->get<uint64_t>() * n;
      out.bounded = true;
    }
  return out;
}

// -- held_reservations --------------------------------------------------------

void held_reservations::add(uint64_t id, uint64_t each, uint32_t count) {
  if (count == 0)
    return;
  batches_.push_back({{id, each}, count});
  count_ += count;
}

held_reservations::one held_reservations::take() {
  auto& b = batches_.front();
  auto r = b.r;
  if (--b.left == 0)
    batches_.pop_front();
  --count_;
  return r;
}

void held_reservations::keep(uint64_t count) {
  while (count_ > count)
    take();
}

} // namespace evo
