// The Python tool's config layout, applied by the datagen loader (see
// python_keys.hpp): placeholders, model_config lookup, the models:
// catalogue, logging.level, other stages' keys, the free-text rule,
// namegen.extra_body.
#include "app/config/python_keys.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <climits>
#include <cstdint>

namespace evo::cfg {

namespace fs = std::filesystem;

namespace {

/// Sections (mappings) of the schema, by dotted path: where the Python
/// tool's placeholder `pass` may stand for an empty body.
const char* const section_paths[] = {
  "api", "api.concurrency", "api.fim", "api.fim.tokens", "api.embedded",
  "api.extra_headers", "api.headers", "models", "namegen", "prompts",
  "prompts.funcname", "prompts.funcname.fim", "prompts.funcname.l2r",
  "prompts.codegen", "filters", "io", "logging", "codegen", "cluster",
  "cluster.tls"};

bool is_section_path(const std::string& path) {
  for (const char* s : section_paths)
    if (path == s)
      return true;
  return false;
}

/// A YAML value as JSON, by the YAML 1.2 core schema (.nan and .inf have no
/// JSON form: refused).
nlohmann::json to_json(const src_node& n, const std::string& path) {
  if (n.value.IsMap()) {
    auto obj = nlohmann::json::object();
    for (const auto& [name, child] : n.children)
      obj[name] = to_json(child, join(path, name));
    return obj;
  }
  if (n.value.IsSequence()) {
    auto arr = nlohmann::json::array();
    for (size_t i = 0; i < n.value.size(); ++i) {
      src_node it = item(n, i);
      it = build(it.value, YAML::Node(), n.file, item_path(path, i), n.ctx);
      arr.push_back(to_json(it, item_path(path, i)));
    }
    return arr;
  }
  switch (kind_of(n.value)) {
    case scalar_kind::null: return nullptr;
    case scalar_kind::boolean: return as_bool(n, path);
    case scalar_kind::integer: return as_int(n, path, LLONG_MIN, LLONG_MAX);
    case scalar_kind::floating:
      return as_number(n, path, "a finite number (JSON has no .nan or .inf)",
                       -inf, true, inf, true);
    case scalar_kind::string: return n.value.Scalar();
  }
  return nullptr;
}

} // namespace

/// `api: pass` (a plain scalar `pass` where a mapping goes: a placeholder
/// in the Python tool's shipped file) becomes an empty section, with a
/// warning. Any other scalar there stays an error (reported later).
void drop_placeholders(src_node& n, const std::string& path,
                       config_notes* notes) {
  for (auto& [name, child] : n.children) {
    const std::string p = join(path, name);
    if (!is_section_path(p))
      continue;
    if (child.value.IsScalar() && child.value.Tag() == "?"
        && child.value.Scalar() == "pass") {
      if (notes != nullptr)
        notes->warnings.push_back(child.file + ":"
                                  + std::to_string(line_of(child)) + ": key '"
                                  + p + "': 'pass' (a Python placeholder) "
                                  "where a mapping goes: ignored");
      child.value = YAML::Node(YAML::NodeType::Null);
      child.children.clear();
      continue;
    }
    drop_placeholders(child, p, notes);
  }
}

/// Where `want` (model_config of `current`) may be, in the Python tool's
/// order: the file's folder, the enclosing configs/ folder and the project
/// folder holding it, the current directory. Each with why, for the log.
std::vector<std::pair<fs::path, std::string>>
model_config_candidates(const std::string& current, const fs::path& want,
                        fs::path& configs_root) {
  std::vector<std::pair<fs::path, std::string>> out;
  auto add = [&](const fs::path& p, const std::string& why) {
    for (const auto& c : out)
      if (c.first == p)
        return;
    out.emplace_back(p, why);
  };
  if (want.is_absolute()) {
    add(want, "an absolute path");
    return out;
  }
  const fs::path dir = fs::path(current).parent_path();
  if (!dir.empty())
    add(dir / want, "relative to the file's folder");
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(current), ec).parent_path();
  for (fs::path d = abs; !ec && !d.empty(); d = d.parent_path()) {
    if (d.filename() == "configs") {
      configs_root = d;
      add(d / want, "relative to the configs folder");
      add(d.parent_path() / want, "relative to the project folder holding configs/");
      break;
    }
    if (d == d.parent_path())
      break;
  }
  add(want, "relative to the current directory");
  return out;
}

/// `namegen.extra_body`: a mapping merged into every request body; the keys
/// this tool sets itself are refused (set them where they belong).
std::string read_extra_body(const src_node& n, const std::string& path) {
  if (!n.value.IsMap())
    fail(n, path, "a mapping of extra request fields (e.g. {logprobs: 1})",
         describe(n.value));
  for (const auto& [name, child] : n.children)
    for (const char* own : {"model", "prompt", "suffix", "messages", "stream",
                            "n", "temperature", "top_p", "max_tokens", "stop",
                            "seed"})
      if (name == own)
        fail_at_key(child, join(path, name),
                    "a field this tool does not set itself (model, prompt, "
                    "suffix, messages, stream and the namegen.* sampling keys "
                    "are set elsewhere)",
                    quote(name));
  return to_json(n, path).dump();
}

/// `models:` default (an alias or a model name) and the catalogue of
/// models.<alias>: {name, max_tokens, supports_fim, supports_logprobs}.
void read_models(const src_node& root, datagen_config& out,
                 config_notes* notes) {
  const src_node* m = leaf(&root, "models");
  if (m == nullptr || m->value.IsNull())
    return;
  if (!m->value.IsMap())
    fail(*m, "models", "a mapping", describe(m->value));
  for (const auto& [alias, entry] : m->children) {
    if (alias == "default")
      continue;
    const std::string p = "models." + alias;
    if (!entry.value.IsMap())
      fail(entry, p,
           "a model entry {name, max_tokens, supports_fim, supports_logprobs} "
           "(or the key 'default')",
           describe(entry.value));
    check_keys(entry, p, {"name", "max_tokens", "supports_fim", "supports_logprobs"});
    model_entry e;
    e.alias = alias;
    e.name = alias;
    e.where = entry.file + ":" + std::to_string(line_of_key(entry));
    read_string(&entry, "name", p + ".name", true, e.name);
    read_int(&entry, "max_tokens", p + ".max_tokens", 1, INT_MAX, e.max_tokens);
    read_bool(&entry, "supports_fim", p + ".supports_fim", e.supports_fim);
    read_bool(&entry, "supports_logprobs", p + ".supports_logprobs",
              e.supports_logprobs);
    out.models.push_back(std::move(e));
  }
  if (const src_node* d = leaf(m, "default")) {
    std::string want = as_string(*d, "models.default", true);
    out.model = want;
    for (const auto& e : out.models)
      if (e.alias == want) {
        out.model = e.name;
        if (notes != nullptr && e.name != want)
          notes->info.push_back("models.default " + quote(want)
                                + " is the alias of model " + quote(e.name));
      }
  }
}

/// `logging.level` (DEBUG, INFO, WARNING, ERROR, CRITICAL; any case).
void read_logging(const src_node& root, config_notes* notes) {
  const src_node* l = section(&root, "logging", "logging", {"level"});
  const src_node* n = leaf(l, "level");
  if (n == nullptr)
    return;
  const char* expected = "one of DEBUG, INFO, WARNING, ERROR, CRITICAL";
  if (!n->value.IsScalar() || kind_of(n->value) != scalar_kind::string)
    fail(*n, "logging.level", expected, describe(n->value));
  std::string v;
  for (char c : n->value.Scalar())
    v += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, const char*> levels[] = {
    {"DEBUG", "debug"}, {"INFO", "info"},      {"WARNING", "warn"},
    {"WARN", "warn"},   {"ERROR", "err"},      {"CRITICAL", "critical"}};
  for (const auto& [py, spd] : levels)
    if (v == py) {
      if (notes != nullptr)
        notes->log_level = spd;
      return;
    }
  fail(*n, "logging.level", expected, describe(n->value));
}

/// What follows from the whole file: the free-text rule of the Python
/// tool's latest layout and the catalogue's max_tokens cap.
void apply_python_rules(const src_node& root, datagen_config& out,
                        config_notes* notes) {
  const src_node* g = root.find("namegen");
  const bool extract_given = g != nullptr && g->find("extract") != nullptr;
  const bool samples_given = g != nullptr && g->find("num_samples") != nullptr;
  if (!extract_given && samples_given && root.find("filters") == nullptr) {
    out.namegen.extract = extract_kind::text;
    if (notes != nullptr)
      notes->info.push_back(
        "namegen.extract: text (the config sets namegen.num_samples and has no "
        "filters section: the Python tool's free-text layout; set "
        "namegen.extract: name to sample names)");
  }
  if (const model_entry* e = find_model(out, out.model);
      e != nullptr && e->max_tokens > 0
      && out.namegen.params.max_tokens > e->max_tokens) {
    if (notes != nullptr)
      notes->info.push_back(
        "namegen.max_new_tokens " + std::to_string(out.namegen.params.max_tokens)
        + " capped to " + std::to_string(e->max_tokens) + " (models."
        + e->alias + ".max_tokens, " + e->where + ")");
    out.namegen.params.max_tokens = e->max_tokens;
  }
}

/// Keys of the Python tool's other stages: accepted, told once, not used.
void note_unused(const src_node& root, config_notes* notes) {
  if (notes == nullptr)
    return;
  const std::pair<const char*, const char*> keys[] = {
    {"codegen", nullptr},          {"prompts", "codegen"},
    {"prompts", "global_prefix"},  {"filters", "min_code_len"},
    {"filters", "enable_ast"},     {"filters", "enable_ruff"},
    {"io", "input_desc_path"},     {"io", "out_code_dir"},
    {"io", "shard_size"}};
  std::string found;
  for (const auto& [sec, key] : keys) {
    const src_node* s = root.find(sec);
    if (s == nullptr || (key != nullptr && s->find(key) == nullptr))
      continue;
    found += (found.empty() ? "" : ", ")
             + (key == nullptr ? std::string(sec) : join(sec, key));
  }
  if (!found.empty())
    notes->info.push_back(
      "keys of the Python tool's other stages, not used by this command: "
      + found);
}

} // namespace evo::cfg

namespace evo {

using cfg::quote;

const model_entry* find_model(const datagen_config& cfg,
                              const std::string& name_or_alias) {
  for (const auto& e : cfg.models)
    if (e.alias == name_or_alias)
      return &e;
  for (const auto& e : cfg.models)
    if (e.name == name_or_alias)
      return &e;
  return nullptr;
}

void require_fim_support(const datagen_config& cfg, const std::string& model,
                         const std::string& who) {
  const model_entry* e = find_model(cfg, model);
  if (e == nullptr || e->supports_fim)
    return;
  throw config_error(e->where + ": key 'models." + e->alias
                     + ".supports_fim': model " + quote(e->name)
                     + " does not support FIM, but " + who
                     + " is a FIM job (use l2r mode, or a model whose "
                       "supports_fim is true)");
}


} // namespace evo
