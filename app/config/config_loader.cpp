// YAML -> datagen_config. Three steps: read the chain of files
// (datagen.yaml -> model_config -> ...), deep-merge them into one tree whose
// every node remembers the file it came from, then validate that tree against
// the schema below, key by key, failing on the first problem with
// "<file>:<line>: key '<dotted.key>': expected ..., got ...".
#include "app/config/config_loader.hpp"
#include "app/config/yaml_schema.hpp"

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

namespace evo {

namespace {

namespace fs = std::filesystem;
using namespace cfg;

/// How many files a model_config chain may hold (datagen.yaml included).
constexpr int max_chain = 16;

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
src_node load_tree(const std::string& path) {
  std::vector<src_node> trees;
  std::vector<std::pair<fs::path, std::string>> seen; // canonical, as named
  std::string current = path;
  for (int depth = 0; depth < max_chain; ++depth) {
    src_node tree = build(parse_file(current), YAML::Node(), current, "");
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
      std::vector<fs::path> candidates;
      if (p.is_absolute()) {
        candidates.push_back(p);
      } else {
        candidates.push_back(dir / p);
        candidates.push_back(p);
      }
      fs::path found;
      for (const auto& c : candidates) {
        std::error_code ec2;
        if (fs::exists(c, ec2)) {
          found = c;
          break;
        }
      }
      if (found.empty()) {
        std::string looked =
          p.is_absolute() ? std::string("an existing file")
          : dir.empty()   ? std::string("an existing file (relative to the current directory)")
                          : "an existing file (relative to '" + dir.string()
                              + "' or the current directory)";
        fail(*mc, "model_config", looked, quote(want));
      }
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
  if (const src_node* n = leaf(c, "rate_limit_per_second");
      n != nullptr && !n->value.IsNull())
    out.rate_limit_per_second =
      as_number(*n, p + ".rate_limit_per_second",
                "a number > 0 (omit the key for no limit)", 0, true, inf, false);
  read_number(c, "burst", p + ".burst", "a number >= 1", 1, false, inf, false,
              out.burst);
  read_int(c, "semaphore_size", p + ".semaphore_size", 1, INT_MAX,
           out.semaphore_size);
  read_int(c, "io_threads", p + ".io_threads", 1, 16, out.io_threads);
}

void read_fim(const src_node* api, fim_config& out) {
  const std::string p = "api.fim";
  const src_node* f = section(api, "fim", p,
                              {"use_chat_for_fim", "prefix_key", "suffix_key",
                               "mode", "tokens"});
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

/// `extra_headers`: header name -> string value. Values count as secrets.
void read_extra_headers(const src_node* api, api_config& out) {
  const std::string p = "api.extra_headers";
  const src_node* h = leaf(api, "extra_headers");
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
             "embedded"});
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
  read_fim(a, out.fim);
  read_embedded(a, out.embedded);
  read_extra_headers(a, out);
}

void read_namegen(const src_node& root, namegen_config& out) {
  const std::string p = "namegen";
  const src_node* g =
    section(&root, "namegen", p,
            {"temperature", "top_p", "max_new_tokens", "n", "num_batches",
             "stop", "seed", "weaklist"});
  sampling_params& sp = out.params;
  read_number(g, "temperature", p + ".temperature", "a number between 0 and 2",
              0, false, 2, false, sp.temperature);
  read_number(g, "top_p", p + ".top_p", "a number > 0 and <= 1", 0, true, 1,
              false, sp.top_p);
  read_int(g, "max_new_tokens", p + ".max_new_tokens", 1, INT_MAX, sp.max_tokens);
  read_int(g, "n", p + ".n", 1, INT_MAX, sp.n);
  read_int(g, "num_batches", p + ".num_batches", 1, INT_MAX, out.num_batches);
  if (const src_node* s = leaf(g, "stop"))
    sp.stop = read_stop(*s, p + ".stop");
  else
    sp.stop = {"(", " ", "\n"};
  if (const src_node* s = leaf(g, "seed"); s != nullptr && !s->value.IsNull())
    sp.seed = static_cast<int64_t>(as_int(*s, p + ".seed", LLONG_MIN, LLONG_MAX));
  if (const src_node* w = leaf(g, "weaklist"); w != nullptr && !w->value.IsNull()) {
    out.weaklist = as_string_list(*w, p + ".weaklist");
  }
}

void read_prompts(const src_node& root, prompts_config& out) {
  const src_node* pr = section(&root, "prompts", "prompts", {"funcname"});
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
  const src_node* f = section(&root, "filters", "filters", {"name_regex"});
  if (const src_node* n = leaf(f, "name_regex"))
    out.name_regex = as_regex(*n, "filters.name_regex");
}

} // namespace

std::string normalize_base_url(const std::string& url, const std::string& what) {
  if (url == "embedded")
    return url;
  auto bad = [&]() -> void {
    throw config_error(what
                       + ": expected an http:// or https:// URL or \"embedded\", got "
                       + quote(redact_userinfo(url)));
  };
  auto lower_prefix = [&](const char* prefix) {
    size_t n = std::strlen(prefix);
    if (url.size() < n)
      return false;
    for (size_t i = 0; i < n; ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i])
        return false;
    return true;
  };
  size_t host_begin = 0;
  if (lower_prefix("http://"))
    host_begin = 7;
  else if (lower_prefix("https://"))
    host_begin = 8;
  else
    bad();
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      bad();
  size_t host_end = url.find_first_of("/?#", host_begin);
  if (host_end == host_begin)
    bad();
  if (host_end != std::string::npos && url[host_end] != '/')
    bad(); // a query or fragment has no place in a base URL
  if (url.find_first_of("?#") != std::string::npos)
    bad();
  std::string out = url;
  while (out.size() > host_begin && out.back() == '/')
    out.pop_back();
  if (out.size() <= host_begin)
    bad();
  // "/v1" must be a path segment after the host ("http://v1" has no path).
  const size_t path_begin = out.find('/', host_begin);
  const bool ends_v1 = path_begin != std::string::npos
                       && out.size() - 3 >= path_begin
                       && out.compare(out.size() - 3, 3, "/v1") == 0;
  if (!ends_v1)
    out += "/v1";
  return out;
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
                                   const env_lookup& env) {
  src_node root = load_tree(path);
  check_keys(root, "",
             {"model_config", "api", "models", "namegen", "prompts", "filters",
              "io", "cluster"});
  datagen_config out;
  out.source_file = path;
  read_api(root, out.api);
  if (const src_node* m =
        section(&root, "models", "models", {"default"}))
    read_string(m, "default", "models.default", true, out.model);
  read_namegen(root, out.namegen);
  read_prompts(root, out.prompts);
  read_filters(root, out);
  if (const src_node* io = section(&root, "io", "io", {"out_names_dir"}))
    read_string(io, "out_names_dir", "io.out_names_dir", true, out.out_names_dir);
  read_cluster(root, out.cluster);

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
