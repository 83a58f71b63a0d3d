#include "actors/coordinator/n_split.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

namespace evo {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// The number at `pos` (1 .. 1<<20), if digits start there.
std::optional<uint32_t> number_at(const std::string& s, size_t pos) {
  uint64_t v = 0;
  size_t k = pos;
  while (k < s.size() && k - pos < 8 && std::isdigit(static_cast<unsigned char>(s[k])))
    v = v * 10 + static_cast<uint64_t>(s[k++] - '0');
  if (k == pos || v < 1 || v > (1u << 20))
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

} // namespace

std::optional<uint32_t> parse_n_limit(std::string_view text) {
  const auto s = lower(text);
  // Where the text names the field n (quoted, or as a word).
  static const char* const names[] = {"'n'", "`n`", "\"n\"", " n "};
  // What precedes the largest value; tried at each position after the name.
  static const char* const markers[] = {"<= value <= ", "at most ", "<= ",
                                        "less than or equal to "};
  for (const char* name : names) {
    for (auto p = s.find(name); p != std::string::npos; p = s.find(name, p + 1)) {
      auto end = std::min(s.size(), p + 90);
      for (auto q = p; q < end; ++q)
        for (const char* m : markers) {
          std::string_view mv(m);
          if (s.compare(q, mv.size(), mv) == 0)
            if (auto v = number_at(s, q + mv.size()))
              return v;
        }
    }
  }
  return std::nullopt;
}

std::vector<uint32_t> split_n(uint32_t n, uint32_t max_n) {
  if (max_n == 0 || n <= max_n)
    return {n};
  std::vector<uint32_t> parts;
  for (uint32_t left = n; left > 0;) {
    auto p = std::min(left, max_n);
    parts.push_back(p);
    left -= p;
  }
  return parts;
}

uint32_t body_n(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object())
    return 1;
  auto it = j.find("n");
  if (it == j.end() || !it->is_number_unsigned() || it->get<uint64_t>() < 1
      || it->get<uint64_t>() > UINT32_MAX)
    return 1;
  return it->get<uint32_t>();
}

std::string body_with_n(std::string_view body, uint32_t n) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object())
    return std::string(body);
  j["n"] = n;
  return j.dump();
}

// -- n_splitter ---------------------------------------------------------------

n_splitter::n_splitter(const std::vector<std::string>& job_bodies) {
  job_n_.reserve(job_bodies.size());
  for (auto& b : job_bodies)
    job_n_.push_back(body_n(b));
}

uint32_t n_splitter::asked(const item& it) const {
  return it.n > 0 ? it.n : job_n_.at(it.job);
}

const std::string& n_splitter::body(const item& it,
                                    const std::string& job_body) {
  if (it.n == 0 || it.n == job_n_.at(it.job))
    return job_body;
  auto k = std::make_pair(it.job, it.n);
  auto found = bodies_.find(k);
  if (found == bodies_.end())
    found = bodies_.emplace(k, body_with_n(job_body, it.n)).first;
  return found->second;
}

void n_splitter::expect(const item& it, size_t more) {
  if (more == 0)
    return;
  auto& p = pending_[{it.job, it.index}]; // new: the one out is this one
  p.parts_out += static_cast<uint32_t>(more);
}

std::vector<scheduler::item> n_splitter::split(item& it) {
  auto parts = split_n(asked(it), max_n_);
  if (parts.size() == 1)
    return {};
  it.n = parts[0];
  std::vector<item> rest;
  for (size_t k = 1; k < parts.size(); ++k)
    rest.push_back(item{it.job, it.index, 0, parts[k]});
  expect(it, rest.size());
  return rest;
}

void n_splitter::learn(uint32_t limit, const char* how) {
  if (max_n_ == 0 || limit < max_n_) {
    max_n_ = limit;
    learned_how_ = how;
  }
}

bool n_splitter::refused(const item& it, int32_t http_status,
                         std::string_view detail) {
  if (http_status != 400 && http_status != 422)
    return false;
  auto limit = parse_n_limit(detail);
  if (!limit || *limit >= asked(it))
    return false;
  learn(*limit, "it refused a larger n");
  return true;
}

std::optional<n_splitter::gathered>
n_splitter::answered(const item& it, attempt_result& r,
                     std::vector<item>& more) {
  auto want = asked(it);
  auto got = static_cast<uint32_t>(r.choices.size());
  if (got > 0 && got < want) {
    // A server that caps n quietly: the missing choices go out as parts.
    learn(got, "it answered with fewer choices than asked");
    for (auto p : split_n(want - got, max_n_))
      more.push_back(item{it.job, it.index, 0, p});
    expect(it, more.size());
  }
  auto found = pending_.find({it.job, it.index});
  if (found == pending_.end()) {
    gathered g;
    g.choices = std::move(r.choices);
    g.model = std::move(r.model);
    g.prompt_tokens = r.prompt_tokens;
    g.completion_tokens = r.completion_tokens;
    return g;
  }
  auto& g = found->second.g;
  for (auto& c : r.choices)
    g.choices.push_back(std::move(c));
  if (g.model.empty())
    g.model = std::move(r.model);
  g.prompt_tokens += r.prompt_tokens;
  g.completion_tokens += r.completion_tokens;
  if (--found->second.parts_out > 0)
    return std::nullopt;
  auto out = std::move(g);
  pending_.erase(found);
  return out;
}

std::optional<n_splitter::gathered> n_splitter::failed(const item& it,
                                                       attempt_result& r) {
  auto found = pending_.find({it.job, it.index});
  gathered fresh;
  auto& g = found == pending_.end() ? fresh : found->second.g;
  if (!g.failed) {
    // The first part to fail for good says why the item failed.
    g.failed = true;
    g.attempts = r.attempt + 1;
    g.http_status = r.http_status;
    g.failure = r.failure;
    g.detail = std::move(r.detail);
  }
  if (found == pending_.end())
    return fresh;
  if (--found->second.parts_out > 0)
    return std::nullopt;
  auto out = std::move(g);
  pending_.erase(found);
  return out;
}

std::vector<std::string> n_splitter::notes() const {
  std::vector<std::string> out;
  if (max_n_ == 0)
    return out;
  std::set<uint32_t> seen;
  for (auto n : job_n_) {
    if (n <= max_n_ || !seen.insert(n).second)
      continue;
    out.push_back("server caps n at " + std::to_string(max_n_) + " ("
                  + learned_how_ + "): each request of n " + std::to_string(n)
                  + " sent as " + std::to_string(split_n(n, max_n_).size())
                  + " requests");
  }
  return out;
}

} // namespace evo
