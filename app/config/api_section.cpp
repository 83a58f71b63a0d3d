// The `api:` section of the datagen config: every key under it, checked and
// copied into api_config, plus the pool-size and rate-limit checks that the
// command line shares with api.concurrency.
#include "app/config/api_section.hpp"

#include "tools/sim/capacity_schedule.hpp"

#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include <sys/resource.h>

namespace evo {

namespace {

const char* const rate_limit_expected = "a number > 0 (omit the key for no limit)";

} // namespace

std::string pool_size_problem(long long n) {
  if (n < 1 || n > max_pool_size)
    return "expected an integer between 1 and " + std::to_string(max_pool_size)
           + ", got " + std::to_string(n);
  // One socket per request in flight, plus the files and pipes of the run.
  constexpr long long reserved = 64;
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    const long long allowed = static_cast<long long>(rl.rlim_cur) - reserved;
    if (n > allowed)
      return "expected at most " + std::to_string(allowed < 1 ? 0 : allowed)
             + " (the open-file limit RLIMIT_NOFILE is "
             + std::to_string(rl.rlim_cur) + ", one socket per request in flight and "
             + std::to_string(reserved) + " kept for files; raise it with "
               "`ulimit -n` (hard limit "
             + (rl.rlim_max == RLIM_INFINITY ? std::string("unlimited")
                                             : std::to_string(rl.rlim_max))
             + ") or lower the pool), got " + std::to_string(n);
  }
  return "";
}

std::string rate_limit_problem(double v) {
  if (std::isfinite(v) && v > 0)
    return "";
  std::string got = std::isnan(v)   ? "nan"
                    : std::isinf(v) ? (v > 0 ? "inf" : "-inf")
                    : v == 0        ? (std::signbit(v) ? "-0" : "0")
                                    : std::to_string(v);
  return std::string("expected ") + rate_limit_expected + ", got " + got;
}

namespace cfg {

namespace {

namespace fs = std::filesystem;

void read_concurrency(const src_node* api, api_config& out) {
  const std::string p = "api.concurrency";
  const src_node* c =
    section(api, "concurrency", p,
            {"max_concurrent_requests", "rate_limit_per_second", "burst",
             "semaphore_size", "io_threads", "tokens_per_minute", "adaptive",
             "min"});
  read_int(c, "max_concurrent_requests", p + ".max_concurrent_requests", 1,
           INT_MAX, out.max_concurrent_requests);
  if (const src_node* n = leaf(c, "max_concurrent_requests")) {
    std::string problem = pool_size_problem(out.max_concurrent_requests);
    if (!problem.empty())
      throw config_error(where(*n, p + ".max_concurrent_requests", line_of(*n))
                         + ": " + problem);
  }
  if (const src_node* n = leaf(c, "rate_limit_per_second");
      n != nullptr && !n->value.IsNull()) {
    // One check for the file and --rate-limit: the text of .nan/.inf never
    // reaches a double here (as_number refuses it), so `got` shows the file.
    const auto k = kind_of(n->value);
    if (!n->value.IsScalar()
        || (k != scalar_kind::integer && k != scalar_kind::floating)
        || n->value.Scalar().find_first_of("iInN") != std::string::npos)
      fail(*n, p + ".rate_limit_per_second", rate_limit_expected,
           describe(n->value));
    double v = std::strtod(n->value.Scalar().c_str(), nullptr);
    if (!rate_limit_problem(v).empty())
      fail(*n, p + ".rate_limit_per_second", rate_limit_expected,
           describe(n->value));
    out.rate_limit_per_second = v;
  }
  read_number(c, "burst", p + ".burst", "a number >= 1", 1, false, inf, false,
              out.burst);
  if (const src_node* n = leaf(c, "tokens_per_minute")) {
    // Absent: no token budget.
    out.tokens_per_minute = static_cast<uint64_t>(
      as_int(*n, p + ".tokens_per_minute", 1, LLONG_MAX));
    out.tokens_per_minute_where =
      where(*n, p + ".tokens_per_minute", line_of(*n));
  }
  // Absent: no cap beyond the pool.
  if (const src_node* n = leaf(c, "semaphore_size"))
    out.semaphore_size = static_cast<int>(
      as_int(*n, p + ".semaphore_size", 1, INT_MAX));
  read_int(c, "io_threads", p + ".io_threads", 1, 16, out.io_threads);
  read_bool(c, "adaptive", p + ".adaptive", out.adaptive);
  read_int(c, "min", p + ".min", 1, INT_MAX, out.concurrency_min);
  if (const src_node* n = leaf(c, "min");
      n != nullptr && out.concurrency_min > out.max_concurrent_requests)
    fail(*n, p + ".min",
         "an integer <= api.concurrency.max_concurrent_requests ("
           + std::to_string(out.max_concurrent_requests) + ")",
         describe(n->value));
}

void read_fim(const src_node* api, fim_config& out) {
  const std::string p = "api.fim";
  const src_node* f = section(api, "fim", p,
                              {"use_chat_for_fim", "prefix_key", "suffix_key",
                               "mode", "tokens",
                               "prefix_token", "suffix_token", "middle_token"});
  bool use_chat = out.use_chat_for_fim;
  const src_node* use_chat_node = leaf(f, "use_chat_for_fim");
  if (use_chat_node != nullptr)
    use_chat = as_bool(*use_chat_node, p + ".use_chat_for_fim");
  read_string(f, "prefix_key", p + ".prefix_key", true, out.prefix_key);
  read_string(f, "suffix_key", p + ".suffix_key", true, out.suffix_key);
  std::optional<fim_mode> mode;
  const src_node* mode_node = leaf(f, "mode");
  if (mode_node != nullptr && !use_chat && mode_node->value.IsScalar()
      && mode_node->value.Scalar() == "auto")
    out.probe = true; // picked at the start by asking the server
  else if (mode_node != nullptr)
    mode = as_fim_mode(*mode_node, p + ".mode");
  if (use_chat) {
    if (mode && *mode != fim_mode::chat)
      fail(*mode_node, p + ".mode",
           "chat or no mode, since api.fim.use_chat_for_fim is true ("
             + use_chat_node->file + ":"
             + std::to_string(line_of(*use_chat_node)) + ")",
           describe(mode_node->value));
    mode = fim_mode::chat;
  }
  if (mode)
    out.mode = *mode;
  out.use_chat_for_fim = out.mode == fim_mode::chat;
  const src_node* t =
    section(f, "tokens", p + ".tokens", {"prefix", "suffix", "middle"});
  read_string(t, "prefix", p + ".tokens.prefix", false, out.prefix_token);
  read_string(t, "suffix", p + ".tokens.suffix", false, out.suffix_token);
  read_string(t, "middle", p + ".tokens.middle", false, out.middle_token);
  // The Python tool's names of the same three tokens.
  const std::pair<const char*, std::string*> python_names[] = {
    {"prefix", &out.prefix_token},
    {"suffix", &out.suffix_token},
    {"middle", &out.middle_token}};
  for (const auto& [which, field] : python_names) {
    const std::string key = std::string(which) + "_token";
    const src_node* n = leaf(f, key.c_str());
    if (n == nullptr)
      continue;
    std::string v = as_string(*n, p + "." + key, false);
    if (const src_node* other = leaf(t, which); other != nullptr && v != *field)
      fail(*n, p + "." + key,
           "the same token as api.fim.tokens." + std::string(which) + " ("
             + other->file + ":" + std::to_string(line_of(*other))
             + ") or only one of the two keys",
           describe(n->value));
    *field = std::move(v);
  }
}

void read_embedded(const src_node* api, embedded_sim_config& out) {
  const std::string p = "api.embedded";
  const src_node* e =
    section(api, "embedded", p,
            {"latency_ms", "jitter_ms", "per_token_ms", "max_concurrency",
             "rate_limit", "fault_rate", "faults", "seed", "vocabulary",
             "batch_model", "step_base_ms", "step_per_seq_ms", "kv_capacity",
             "overload_queue", "overload_status", "prefill_per_token_ms",
             "capacity_schedule"});
  read_number(e, "latency_ms", p + ".latency_ms", "a number >= 0", 0, false,
              inf, false, out.latency_ms);
  read_number(e, "jitter_ms", p + ".jitter_ms", "a number >= 0", 0, false, inf,
              false, out.jitter_ms);
  read_number(e, "per_token_ms", p + ".per_token_ms", "a number >= 0", 0, false,
              inf, false, out.per_token_ms);
  read_int(e, "max_concurrency", p + ".max_concurrency", 0, INT_MAX,
           out.max_concurrency);
  read_number(e, "rate_limit", p + ".rate_limit", "a number >= 0", 0, false, inf,
              false, out.rate_limit);
  read_number(e, "fault_rate", p + ".fault_rate", "a number between 0 and 1", 0,
              false, 1, false, out.fault_rate);
  if (const src_node* f = leaf(e, "faults"); f != nullptr && !f->value.IsNull()) {
    static const char* kinds[] = {"429",   "500",       "503",      "hang",
                                  "reset", "malformed", "truncated"};
    const char* expected =
      "one of 429, 500, 503, hang, reset, malformed, truncated";
    if (!f->value.IsSequence())
      fail(*f, p + ".faults", std::string("a list of ") + expected,
           describe(f->value));
    out.faults.clear();
    for (size_t i = 0; i < f->value.size(); ++i) {
      src_node it = item(*f, i);
      bool ok = false;
      if (it.value.IsScalar())
        for (const char* k : kinds)
          if (it.value.Scalar() == k)
            ok = true;
      if (!ok)
        fail(it, item_path(p + ".faults", i), expected, describe(it.value));
      out.faults.push_back(it.value.Scalar());
    }
  }
  if (const src_node* s = leaf(e, "seed"))
    out.seed = static_cast<uint64_t>(as_int(*s, p + ".seed", 0, LLONG_MAX));
  read_int(e, "vocabulary", p + ".vocabulary", 0, INT_MAX, out.vocabulary);
  read_bool(e, "batch_model", p + ".batch_model", out.batch_model);
  read_number(e, "step_base_ms", p + ".step_base_ms", "a number >= 0", 0,
              false, inf, false, out.step_base_ms);
  read_number(e, "step_per_seq_ms", p + ".step_per_seq_ms", "a number >= 0",
              0, false, inf, false, out.step_per_seq_ms);
  read_number(e, "prefill_per_token_ms", p + ".prefill_per_token_ms",
              "a number >= 0", 0, false, inf, false, out.prefill_per_token_ms);
  read_int(e, "kv_capacity", p + ".kv_capacity", 1, INT_MAX, out.kv_capacity);
  read_int(e, "overload_queue", p + ".overload_queue", 0, INT_MAX,
           out.overload_queue);
  if (const src_node* s = leaf(e, "overload_status")) {
    out.overload_status = static_cast<int>(
      as_int(*s, p + ".overload_status", 0, INT_MAX));
    if (out.overload_status != 429 && out.overload_status != 503)
      fail(*s, p + ".overload_status", "503 or 429", describe(s->value));
  }
  if (const src_node* s = leaf(e, "capacity_schedule")) {
    const char* expected =
      "a capacity schedule SECONDS:CAPACITY,... (e.g. \"0:64,30:16,60:64\")";
    if (!s->value.IsScalar())
      fail(*s, p + ".capacity_schedule", expected, describe(s->value));
    sim::capacity_schedule parsed;
    std::string why;
    if (!sim::parse_capacity_schedule(s->value.Scalar(), parsed, &why))
      fail(*s, p + ".capacity_schedule", std::string(expected) + "; " + why,
           describe(s->value));
    out.capacity_schedule = s->value.Scalar();
  }
  if (!out.batch_model)
    for (const char* k : {"step_base_ms", "step_per_seq_ms", "kv_capacity",
                          "overload_queue", "overload_status",
                          "prefill_per_token_ms", "capacity_schedule"})
      if (const src_node* n = leaf(e, k))
        fail(*n, p + "." + k, "api.embedded.batch_model: true next to it",
             describe(n->value));
}

/// `http_client`: auto | libcurl | native.
void read_http_client(const src_node* api, api_config& out) {
  const src_node* n = leaf(api, "http_client");
  if (n == nullptr)
    return;
  const std::string path = "api.http_client";
  const char* expected = "one of auto, libcurl, native";
  if (!n->value.IsScalar() || kind_of(n->value) != scalar_kind::string)
    fail(*n, path, expected, describe(n->value));
  const std::string& s = n->value.Scalar();
  if (s == "auto")
    out.http_client = http_client_kind::automatic;
  else if (s == "libcurl")
    out.http_client = http_client_kind::libcurl;
  else if (s == "native")
    out.http_client = http_client_kind::native;
  else
    fail(*n, path, expected, describe(n->value));
}

/// Headers the HTTP clients set themselves: an extra header with one of
/// these names would break the framing of every request.
bool is_framing_header(const std::string& name) {
  for (const char* f : {"content-length", "host", "transfer-encoding", "connection"}) {
    if (name.size() != std::strlen(f))
      continue;
    bool same = true;
    for (size_t i = 0; i < name.size(); ++i)
      same = same && std::tolower(static_cast<unsigned char>(name[i])) == f[i];
    if (same)
      return true;
  }
  return false;
}

bool has_entries(const src_node* n) {
  return n != nullptr && !n->value.IsNull()
         && !(n->value.IsMap() && n->children.empty());
}

/// `extra_headers` (or `headers`, the Python tool's name): header name ->
/// string value. Values count as secrets.
void read_extra_headers(const src_node* api, api_config& out) {
  const src_node* extra = leaf(api, "extra_headers");
  const src_node* python = leaf(api, "headers");
  if (has_entries(extra) && has_entries(python))
    fail_at_key(*python, "api.headers",
                "api.headers or api.extra_headers (the same setting), not both",
                "both (api.extra_headers at " + extra->file + ":"
                  + std::to_string(line_of_key(*extra)) + ")");
  const std::string p = has_entries(python) ? "api.headers" : "api.extra_headers";
  const src_node* h = has_entries(python) ? python : extra;
  if (h == nullptr || h->value.IsNull())
    return;
  if (!h->value.IsMap())
    fail(*h, p, "a mapping of header names to strings", describe(h->value));
  for (const auto& [name, child] : h->children) {
    auto path = join(p, name);
    bool token = !name.empty();
    for (char c : name)
      token = token && (std::isalnum(static_cast<unsigned char>(c)) || c == '-');
    if (!token)
      fail_at_key(child, path, "an HTTP header name (letters, digits, '-')",
                  quote(name));
    if (is_framing_header(name))
      fail_at_key(child, path,
                  "a header other than Content-Length, Host, Transfer-Encoding "
                  "and Connection (the HTTP client sets those)",
                  quote(name));
    auto value = as_string(child, path, false, /*secret=*/true);
    if (value.find_first_of("\r\n") != std::string::npos)
      fail(child, path, "a single-line string", "a line break");
    out.extra_headers.emplace_back(name, std::move(value));
  }
}

} // namespace

void read_api(const src_node& root, api_config& out) {
  const std::string p = "api";
  const src_node* a =
    section(&root, "api", p,
            {"base_url", "api_key", "api_key_env", "timeout_s", "max_retries",
             "backoff_base_s", "backoff_max_s", "concurrency", "http_client",
             "extra_headers", "ca_file", "insecure_skip_verify", "fim",
             "embedded", "max_response_bytes",
             "headers"});
  if (const src_node* n = leaf(a, "base_url")) {
    std::string url = as_string(*n, p + ".base_url", true);
    out.base_url =
      normalize_base_url(url, where(*n, p + ".base_url", line_of(*n)));
  }
  if (const src_node* n = leaf(a, "api_key"))
    out.api_key = as_string(*n, p + ".api_key", false, /*secret=*/true);
  read_string(a, "api_key_env", p + ".api_key_env", false, out.api_key_env);
  read_number(a, "timeout_s", p + ".timeout_s", "a number > 0", 0, true, inf,
              false, out.timeout_s);
  read_int(a, "max_retries", p + ".max_retries", 0, INT_MAX, out.max_retries);
  read_number(a, "backoff_base_s", p + ".backoff_base_s",
              "a number > 0 and <= 3600", 0, true, 3600, false,
              out.backoff_base_s);
  read_number(a, "backoff_max_s", p + ".backoff_max_s",
              "a number > 0 and <= 86400", 0, true, 86400, false,
              out.backoff_max_s);
  read_concurrency(a, out);
  read_http_client(a, out);
  if (const src_node* n = leaf(a, "ca_file")) {
    out.ca_file = as_string(*n, p + ".ca_file", false);
    std::error_code ec;
    if (!out.ca_file.empty() && !fs::is_regular_file(out.ca_file, ec))
      fail(*n, p + ".ca_file", "an existing file", describe(n->value));
  }
  read_bool(a, "insecure_skip_verify", p + ".insecure_skip_verify",
            out.insecure_skip_verify);
  read_int(a, "max_response_bytes", p + ".max_response_bytes", 1024,
           1LL << 30, out.max_response_bytes);
  read_fim(a, out.fim);
  read_embedded(a, out.embedded);
  read_extra_headers(a, out);
}

} // namespace cfg

} // namespace evo
