// YAML -> datagen_config. Three steps: read the chain of files
// (datagen.yaml -> model_config -> ...), deep-merge them into one tree whose
// every node remembers the file it came from, then validate that tree against
// the schema below, key by key, failing on the first problem with
// "<file>:<line>: key '<dotted.key>': expected ..., got ...".
#include "app/config/config_loader.hpp"
#include "app/config/yaml_schema.hpp"
#include "actors/request/url.hpp"
#include "app/config/python_keys.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <filesystem>
#include <utility>
#include <vector>

#include <sys/resource.h>

namespace evo {

namespace {

namespace fs = std::filesystem;
using namespace cfg;

/// How many files a model_config chain may hold (datagen.yaml included).
constexpr int max_chain = 16;

const char* const rate_limit_expected = "a number > 0 (omit the key for no limit)";

// -- merging the chain ---------------------------------------------------------

/// Deep merge: maps merge key by key, anything else in `over` replaces `base`;
/// an empty section (`api:` with nothing under it) leaves `base` as it is.
void merge(src_node& base, src_node over) {
  if (base.value.IsMap() && over.value.IsMap()) {
    for (auto& [name, child] : over.children) {
      if (src_node* b = base.find(name))
        merge(*b, std::move(child));
      else
        base.children.emplace_back(name, std::move(child));
    }
    return;
  }
  if (over.value.IsNull() && base.value.IsMap())
    return;
  base = std::move(over);
}

/// Reads `path` and every file its model_config chain names, and merges them
/// (later files are the base, earlier ones win).
src_node load_tree(const std::string& path, config_notes* notes) {
  std::vector<src_node> trees;
  std::vector<std::pair<fs::path, std::string>> seen; // canonical, as named
  std::string current = path;
  for (int depth = 0; depth < max_chain; ++depth) {
    src_node tree = build(parse_file(current), YAML::Node(), current, "");
    drop_placeholders(tree, "", notes);
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(current, ec);
    if (ec)
      canon = fs::absolute(current);
    seen.emplace_back(canon, current);
    std::string next;
    if (const src_node* mc = tree.find("model_config");
        mc != nullptr && !mc->value.IsNull()) {
      if (kind_of(mc->value) != scalar_kind::string || mc->value.Scalar().empty()
          || !mc->value.IsScalar())
        fail(*mc, "model_config", "a non-empty path of a YAML file",
             describe(mc->value));
      const std::string& want = mc->value.Scalar();
      fs::path p(want);
      fs::path dir = fs::path(current).parent_path();
      fs::path configs_root;
      const auto candidates = model_config_candidates(current, p, configs_root);
      fs::path found;
      std::string why;
      for (const auto& [c, reason] : candidates) {
        std::error_code ec2;
        if (fs::exists(c, ec2)) {
          found = c;
          why = reason;
          break;
        }
      }
      if (found.empty()) {
        std::string roots =
          configs_root.empty()
            ? std::string()
            : ", the configs folder '" + configs_root.string()
                + "', its project folder '"
                + configs_root.parent_path().string() + "'";
        std::string looked =
          p.is_absolute() ? std::string("an existing file")
          : dir.empty() && roots.empty()
            ? std::string("an existing file (relative to the current directory)")
          : dir.empty()
            ? "an existing file (relative to" + roots.substr(1)
                + " or the current directory)"
            : "an existing file (relative to '" + dir.string() + "'" + roots
                + " or the current directory)";
        fail(*mc, "model_config", looked, quote(want));
      }
      if (notes != nullptr)
        notes->info.push_back("model_config " + quote(want) + " of " + current
                              + ": using " + found.string() + " (" + why + ")");
      std::error_code ec3;
      fs::path found_canon = fs::weakly_canonical(found, ec3);
      if (ec3)
        found_canon = fs::absolute(found);
      for (const auto& [c, name] : seen) {
        if (c == found_canon) {
          std::string cycle;
          for (const auto& s : seen)
            cycle += s.second + " -> ";
          cycle += found.string();
          fail(*mc, "model_config", "a file not already loaded",
               "a cycle: " + cycle);
        }
      }
      if (depth + 1 >= max_chain)
        fail(*mc, "model_config",
             "at most " + std::to_string(max_chain) + " chained config files",
             "more");
      next = found.string();
    }
    trees.push_back(std::move(tree));
    if (next.empty())
      break;
    current = next;
  }
  src_node merged = std::move(trees.back());
  for (size_t i = trees.size() - 1; i-- > 0;)
    merge(merged, std::move(trees[i]));
  return merged;
}


// -- sections --------------------------------------------------------------------------

void read_concurrency(const src_node* api, api_config& out) {
  const std::string p = "api.concurrency";
  const src_node* c =
    section(api, "concurrency", p,
            {"max_concurrent_requests", "rate_limit_per_second", "burst",
             "semaphore_size", "io_threads"});
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
  // Absent: no cap beyond the pool.
  if (const src_node* n = leaf(c, "semaphore_size"))
    out.semaphore_size = static_cast<int>(
      as_int(*n, p + ".semaphore_size", 1, INT_MAX));
  read_int(c, "io_threads", p + ".io_threads", 1, 16, out.io_threads);
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
  if (mode_node != nullptr)
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
             "rate_limit", "fault_rate", "faults", "seed", "vocabulary"});
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

/// Both `a` and `b` given in `sec` with different values: refused at `b`.
void fail_if_both(const src_node* sec, const char* a, const char* b,
                  const std::string& prefix) {
  const src_node* na = leaf(sec, a);
  const src_node* nb = leaf(sec, b);
  if (na == nullptr || nb == nullptr)
    return;
  if (na->value.IsScalar() && nb->value.IsScalar()
      && na->value.Scalar() == nb->value.Scalar())
    return;
  fail_at_key(*nb, prefix + "." + b,
              prefix + "." + a + " or " + prefix + "." + b
                + " (the same setting), not both with different values",
              "both (" + prefix + "." + a + " at " + na->file + ":"
                + std::to_string(line_of_key(*na)) + ")");
}

void read_namegen(const src_node& root, namegen_config& out) {
  const std::string p = "namegen";
  const src_node* g =
    section(&root, "namegen", p,
            {"temperature", "top_p", "max_new_tokens", "n", "num_batches",
             "stop", "seed", "weaklist",
             "max_tokens", "num_samples", "extract", "extra_body"});
  sampling_params& sp = out.params;
  read_number(g, "temperature", p + ".temperature", "a number between 0 and 2",
              0, false, 2, false, sp.temperature);
  read_number(g, "top_p", p + ".top_p", "a number > 0 and <= 1", 0, true, 1,
              false, sp.top_p);
  fail_if_both(g, "max_new_tokens", "max_tokens", p);
  read_int(g, "max_new_tokens", p + ".max_new_tokens", 1, INT_MAX, sp.max_tokens);
  read_int(g, "max_tokens", p + ".max_tokens", 1, INT_MAX, sp.max_tokens);
  read_int(g, "n", p + ".n", 1, INT_MAX, sp.n);
  read_int(g, "num_batches", p + ".num_batches", 1, INT_MAX, out.num_batches);
  if (const src_node* ns = leaf(g, "num_samples")) {
    if (const src_node* nb = leaf(g, "num_batches"))
      fail_at_key(*ns, p + ".num_samples",
                  "namegen.num_batches (requests) or namegen.num_samples "
                  "(choices), not both",
                  "both (namegen.num_batches at " + nb->file + ":"
                    + std::to_string(line_of_key(*nb)) + ")");
    out.num_samples =
      static_cast<uint64_t>(as_int(*ns, p + ".num_samples", 1, INT_MAX));
    out.num_batches = static_cast<int>(
      (out.num_samples + static_cast<uint64_t>(sp.n) - 1)
      / static_cast<uint64_t>(sp.n));
  }
  if (const src_node* e = leaf(g, "extract")) {
    const char* expected = "name or text";
    if (!e->value.IsScalar() || kind_of(e->value) != scalar_kind::string
        || (e->value.Scalar() != "name" && e->value.Scalar() != "text"))
      fail(*e, p + ".extract", expected, describe(e->value));
    out.extract =
      e->value.Scalar() == "text" ? extract_kind::text : extract_kind::name;
  }
  if (const src_node* s = leaf(g, "stop"))
    sp.stop = read_stop(*s, p + ".stop");
  else
    sp.stop = {"(", " ", "\n"};
  if (const src_node* s = leaf(g, "seed"); s != nullptr && !s->value.IsNull())
    sp.seed = static_cast<int64_t>(as_int(*s, p + ".seed", LLONG_MIN, LLONG_MAX));
  if (const src_node* w = leaf(g, "weaklist"); w != nullptr && !w->value.IsNull()) {
    out.weaklist = as_string_list(*w, p + ".weaklist");
  }
  if (const src_node* e = leaf(g, "extra_body"); e != nullptr && !e->value.IsNull())
    sp.extra_body = read_extra_body(*e, p + ".extra_body");
}

void read_prompts(const src_node& root, prompts_config& out) {
  const src_node* pr = section(&root, "prompts", "prompts",
                               {"funcname", "codegen", "global_prefix"});
  const src_node* fn =
    section(pr, "funcname", "prompts.funcname", {"fim", "l2r"});
  const src_node* fim =
    section(fn, "fim", "prompts.funcname.fim", {"prefix", "suffix"});
  read_string(fim, "prefix", "prompts.funcname.fim.prefix", true, out.fim_prefix);
  read_string(fim, "suffix", "prompts.funcname.fim.suffix", false, out.fim_suffix);
  const src_node* l2r = section(fn, "l2r", "prompts.funcname.l2r", {"prompt"});
  read_string(l2r, "prompt", "prompts.funcname.l2r.prompt", true, out.l2r_prompt);
}

void read_filters(const src_node& root, datagen_config& out) {
  const src_node* f =
    section(&root, "filters", "filters",
            {"name_regex", "min_chars", "max_chars", "min_code_len",
             "enable_ast", "enable_ruff"});
  if (const src_node* n = leaf(f, "name_regex"))
    out.name_regex = as_regex(*n, "filters.name_regex");
  read_int(f, "min_chars", "filters.min_chars", 0, LLONG_MAX, out.min_chars);
  read_int(f, "max_chars", "filters.max_chars", 0, LLONG_MAX, out.max_chars);
  if (out.max_chars != 0 && out.min_chars > out.max_chars) {
    const src_node* n = leaf(f, "max_chars");
    fail(*n, "filters.max_chars",
         "0 (no bound) or an integer >= filters.min_chars ("
           + std::to_string(out.min_chars) + ")",
         describe(n->value));
  }
}

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

std::string normalize_base_url(const std::string& url, const std::string& what) {
  if (auto out = url::normalise_base(url))
    return *out;
  throw config_error(what
                     + ": expected an http:// or https:// URL or \"embedded\", got "
                     + quote(url::redact(url)));
}

config_error::config_error(const std::string& what)
  : std::runtime_error([&] {
      std::string out;
      out.reserve(what.size());
      for (char c : what) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\n')
          out += "\\n";
        else if (c == '\r')
          out += "\\r";
        else if (c == '\t')
          out += "\\t";
        else if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", u);
          out += buf;
        } else
          out += c;
      }
      return out;
    }()) {
}

namespace {

/// `cluster:` workers (host:port list), local_pool, grace_s, tls.
void read_cluster(const src_node& root, cluster_config& out) {
  const std::string p = "cluster";
  const src_node* c =
    section(&root, "cluster", p, {"workers", "local_pool", "grace_s", "tls",
                                  "token", "token_env", "heartbeat_s",
                                  "dead_after_s"});
  if (c == nullptr)
    return;
  if (const src_node* w = leaf(c, "workers")) {
    out.workers = as_string_list(*w, p + ".workers");
    for (size_t i = 0; i < out.workers.size(); ++i) {
      auto& hp = out.workers[i];
      auto colon = hp.rfind(':');
      bool ok = colon != std::string::npos && colon > 0
                && colon + 1 < hp.size()
                && hp.find_first_not_of("0123456789", colon + 1)
                     == std::string::npos
                && std::stol(hp.substr(colon + 1)) > 0
                && std::stol(hp.substr(colon + 1)) < 65536;
      if (!ok)
        fail(item(*w, i), item_path(p + ".workers", i),
             "host:port with a port in 1..65535", quote(hp));
    }
  }
  read_int(c, "local_pool", p + ".local_pool", 0, 100000, out.local_pool);
  read_number(c, "grace_s", p + ".grace_s", "a number > 0", 0, true, 86400,
              false, out.grace_s);
  if (const src_node* n = leaf(c, "token"))
    out.token = as_string(*n, p + ".token", true, /*secret=*/true);
  read_string(c, "token_env", p + ".token_env", true, out.token_env);
  read_number(c, "heartbeat_s", p + ".heartbeat_s", "a number > 0", 0, true,
              3600, false, out.heartbeat_s);
  read_number(c, "dead_after_s", p + ".dead_after_s", "a number > 0", 0, true,
              86400, false, out.dead_after_s);
  if (out.dead_after_s <= out.heartbeat_s) {
    std::ostringstream hb, da;
    hb << out.heartbeat_s;
    da << out.dead_after_s;
    const src_node* n = leaf(c, "dead_after_s");
    fail(n ? *n : *c, p + ".dead_after_s",
         "a number > cluster.heartbeat_s (" + hb.str() + ")", da.str());
  }
  if (const src_node* t =
        section(c, "tls", p + ".tls", {"certificate", "key", "ca"})) {
    std::string* fields[] = {&out.tls.certificate, &out.tls.key, &out.tls.ca};
    const char* names[] = {"certificate", "key", "ca"};
    for (int i = 0; i < 3; ++i) {
      const src_node* n = leaf(t, names[i]);
      auto key = p + ".tls." + names[i];
      if (n == nullptr)
        fail(*t, key, "certificate, key and ca all given", "no such key");
      *fields[i] = as_string(*n, key, true);
      std::error_code ec;
      if (!fs::is_regular_file(*fields[i], ec))
        fail(*n, key, "an existing file", describe(n->value));
    }
  }
}

} // namespace

datagen_config load_datagen_config(const std::string& path,
                                   const env_lookup& env,
                                   config_notes* notes) {
  src_node root = load_tree(path, notes);
  check_keys(root, "",
             {"model_config", "api", "models", "namegen", "prompts", "filters",
              "io", "cluster",
              "codegen", "logging"});
  datagen_config out;
  out.source_file = path;
  read_api(root, out.api);
  read_models(root, out, notes);
  read_namegen(root, out.namegen);
  read_prompts(root, out.prompts);
  read_filters(root, out);
  if (const src_node* io =
        section(&root, "io", "io",
                {"out_names_dir", "input_desc_path", "out_code_dir", "shard_size"}))
    read_string(io, "out_names_dir", "io.out_names_dir", true, out.out_names_dir);
  read_cluster(root, out.cluster);
  read_logging(root, notes);
  if (const src_node* c = leaf(&root, "codegen");
      c != nullptr && !c->value.IsNull() && !c->value.IsMap())
    fail(*c, "codegen", "a mapping", describe(c->value));
  note_unused(root, notes);
  apply_python_rules(root, out, notes);

  if (out.api.api_key.empty() && !out.api.api_key_env.empty()) {
    std::optional<std::string> v;
    if (env) {
      v = env(out.api.api_key_env);
    } else if (const char* e = std::getenv(out.api.api_key_env.c_str())) {
      v = std::string(e);
    }
    if (v)
      out.api.api_key = *v;
  }
  if (out.cluster.token.empty() && !out.cluster.token_env.empty()) {
    std::optional<std::string> v;
    if (env)
      v = env(out.cluster.token_env);
    else if (const char* e = std::getenv(out.cluster.token_env.c_str()))
      v = std::string(e);
    if (!v || v->empty())
      throw config_error(path + ": key 'cluster.token_env': the environment "
                         "variable " + out.cluster.token_env
                         + " is not set or empty");
    out.cluster.token = *v;
  }
  return out;
}

} // namespace evo
