// YAML -> datagen_config: the top level of the datagen config. Takes the
// merged tree of the model_config chain (config_chain.cpp), validates it
// section by section (api: in api_section.cpp; namegen, prompts, filters,
// io and cluster here), failing on the first problem with
// "<file>:<line>: key '<dotted.key>': expected ..., got ...".
#include "app/config/config_loader.hpp"
#include "app/config/yaml_schema.hpp"
#include "app/config/api_section.hpp"
#include "app/config/config_chain.hpp"
#include "actors/request/server_text.hpp"
#include "actors/request/url.hpp"
#include "app/config/python_keys.hpp"

#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
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
             "max_tokens", "num_samples", "extract", "extra_body",
             "stop_when"});
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
  if (const src_node* w = leaf(g, "weaklist"); w != nullptr && w->streamed_list) {
    // Read by the event pass (weaklist_stream.hpp); moved, not copied: the
    // tree is read once.
    out.weaklist = std::move(*w->streamed_list);
  } else if (w != nullptr && !w->value.IsNull()) {
    out.weaklist = as_string_list(*w, p + ".weaklist");
  }
  if (const src_node* e = leaf(g, "extra_body"); e != nullptr && !e->value.IsNull())
    sp.extra_body = read_extra_body(*e, p + ".extra_body");
  if (const src_node* w = leaf(g, "stop_when"); w != nullptr && !w->value.IsNull())
    out.stop_when = as_stop_rule(*w, p + ".stop_when");
}

/// Largest filters.exclude_names file: a benchmark's entry points are a few
/// kilobytes; this is room for millions of names.
constexpr uint64_t max_exclude_file_bytes = uint64_t{64} << 20;

/// filters.exclude_names: a regular file (relative to the folder of the
/// config file that names it) of at most 64 MiB, one name a line; blank
/// lines and lines starting with '#' are skipped, spaces around a name
/// dropped.
void read_exclude_names(const src_node& n, datagen_config& out) {
  const std::string key = "filters.exclude_names";
  const std::string name = as_string(n, key, true);
  fs::path file(name);
  if (file.is_relative())
    file = fs::path(n.file).parent_path() / file;
  const std::string shown = quote(file.string());
  const std::string expected =
    "a regular file of at most 64 MiB, one name a line (relative to the "
    "config file's folder)";
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    fail(n, key, expected, shown + " (" + std::strerror(errno) + ")");
  struct fd_closer {
    int fd;
    ~fd_closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    fail(n, key, expected, shown + " (not a regular file)");
  if (static_cast<uint64_t>(st.st_size) > max_exclude_file_bytes)
    fail(n, key, expected,
         shown + " (" + std::to_string(st.st_size) + " bytes)");
  std::string content;
  char buf[1 << 16];
  while (true) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      fail(n, key, expected, shown + " (" + std::strerror(errno) + ")");
    if (got == 0)
      break;
    if (content.size() + static_cast<size_t>(got) > max_exclude_file_bytes)
      fail(n, key, expected, shown + " (grew past 64 MiB while read)");
    content.append(buf, static_cast<size_t>(got));
  }
  std::istringstream lines(content);
  std::string line;
  while (std::getline(lines, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#')
      continue;
    auto e = line.find_last_not_of(" \t\r");
    out.exclude_names.push_back(line.substr(b, e - b + 1));
  }
  out.exclude_names_file = file.string();
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
             "enable_ast", "enable_ruff", "exclude_names"});
  if (const src_node* n = leaf(f, "name_regex"))
    out.name_regex = as_regex(*n, "filters.name_regex");
  if (const src_node* n = leaf(f, "exclude_names"); n != nullptr && !n->value.IsNull())
    read_exclude_names(*n, out);
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

/// `dedupe:` near (free-text records).
void read_dedupe(const src_node& root, datagen_config& out) {
  const src_node* d = section(&root, "dedupe", "dedupe", {"canonical", "near"});
  if (d != nullptr)
    read_bool(d, "canonical", "dedupe.canonical", out.dedupe_canonical);
  const std::string p = "dedupe.near";
  const src_node* n = leaf(d, "near");
  if (n == nullptr || n->value.IsNull())
    return;
  if (!n->value.IsMap()) // `near: {}` turns it on with the defaults
    fail(*n, p, "a mapping (threshold, shingle)", describe(n->value));
  check_keys(*n, p, {"threshold", "shingle"});
  auto& nd = out.near_dedupe;
  nd.enabled = true;
  // Below 0.5 the bands' candidates would be most of the kept records.
  read_number(n, "threshold", p + ".threshold", "a number between 0.5 and 1",
              0.5, false, 1, false, nd.threshold);
  read_int(n, "shingle", p + ".shingle", 1, 64, nd.shingle);
}

} // namespace


std::string normalize_base_url(const std::string& url, const std::string& what) {
  if (auto out = url::normalise_base(url))
    return *out;
  throw config_error(what
                     + ": expected an http:// or https:// URL or \"embedded\", got "
                     + quote(url::redact(url)));
}

// One line, whatever the file held: its control characters (yaml-cpp echoes
// them in syntax errors, keys are quoted raw) reach no terminal or log.
config_error::config_error(const std::string& what)
  : std::runtime_error(escape_controls(what)) {
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
              "codegen", "logging", "dedupe"});
  datagen_config out;
  out.source_file = path;
  read_api(root, out.api);
  read_models(root, out, notes);
  read_namegen(root, out.namegen);
  read_prompts(root, out.prompts);
  read_filters(root, out);
  if (notes != nullptr && !out.exclude_names_file.empty())
    notes->info.push_back("filters.exclude_names: "
                          + std::to_string(out.exclude_names.size())
                          + " name(s) from " + out.exclude_names_file);
  read_dedupe(root, out);
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
  if (out.near_dedupe.enabled && out.namegen.extract != extract_kind::text
      && notes != nullptr)
    notes->warnings.push_back("dedupe.near applies to free-text records "
                              "(namegen.extract: text); names are deduped "
                              "exactly");

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
