// YAML -> manifest. The manifest names a base datagen config (loaded by
// load_datagen_config), then lists jobs; each job starts from the base
// config's values and overrides some of them. Every problem fails here, on
// the first one found, in file order, with the format of manifest_loader.hpp.
#include "app/config/manifest_loader.hpp"
#include "app/config/yaml_schema.hpp"

#include <cctype>
#include <climits>
#include <filesystem>
#include <map>
#include <utility>

namespace evo {

namespace {

namespace fs = std::filesystem;
using namespace cfg;

/// More jobs than this is a mistake, not a plan.
constexpr size_t max_jobs = 10000;
constexpr size_t max_name_len = 100;

const char* const missing = "no such key";

const char* const name_expected =
  "a job name of 1 to 100 characters A-Z a-z 0-9 _ . - (not \".\" or \"..\")";

bool valid_job_name(const std::string& s) {
  if (s.empty() || s.size() > max_name_len || s == "." || s == "..")
    return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')
              || (u >= '0' && u <= '9') || u == '_' || u == '.' || u == '-';
    if (!ok)
      return false;
  }
  return true;
}

/// A job's folder sits next to the run's own files in <out>: report.json,
/// journal.jsonl (and what comes next to them: report.html, their .tmp
/// files). Any case: the folder may be on a case-insensitive file system.
const char* const reserved_expected =
  "a name other than the run's own files in the output folder (report.*, "
  "journal.*, *.tmp)";

bool is_reserved_name(const std::string& s) {
  std::string l;
  for (char c : s)
    l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto starts = [&](const char* p) { return l.rfind(p, 0) == 0; };
  return starts("report.") || starts("journal.")
         || (l.size() >= 4 && l.compare(l.size() - 4, 4, ".tmp") == 0);
}

/// The message context of job `i`: "job 'name': " when the item has a valid
/// name, else "job <i>: ". Read from the raw YAML, before the tree is built
/// (so that even a duplicate key in the job names the job).
std::string job_label(const YAML::Node& v, size_t i) {
  if (v.IsMap()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      const YAML::Node k = it->first;
      const YAML::Node val = it->second;
      if (!k.IsScalar() || k.Scalar() != "name")
        continue;
      if (val.IsScalar() && kind_of(val) == scalar_kind::string
          && valid_job_name(val.Scalar()))
        return "job '" + val.Scalar() + "': ";
      break;
    }
  }
  return "job " + std::to_string(i) + ": ";
}

/// The keys a job may have, in the order the unknown-key message lists them.
constexpr const char* job_keys[] = {
  "name",  "mode",           "prefix", "suffix",     "prompt",
  "model", "temperature",    "top_p",  "n",          "stop",
  "max_new_tokens", "seed",  "fim_mode", "filters",  "name_regex",
  "weaklist", "num_batches", "target_unique", "max_requests", "stop_when"};

/// Keys that configure the run as a whole: where to set them instead.
const char* run_level_home(const std::string& key) {
  static const std::pair<const char*, const char*> table[] = {
    {"api", "api.* in the base config; a job may set only fim_mode"},
    {"base_url", "api.base_url in the base config"},
    {"api_key", "api.api_key in the base config"},
    {"api_key_env", "api.api_key_env in the base config"},
    {"timeout_s", "api.timeout_s in the base config"},
    {"max_retries", "api.max_retries in the base config"},
    {"backoff_base_s", "api.backoff_base_s in the base config"},
    {"backoff_max_s", "api.backoff_max_s in the base config"},
    {"concurrency", "api.concurrency in the base config"},
    {"max_concurrent_requests",
     "api.concurrency.max_concurrent_requests in the base config"},
    {"rate_limit_per_second",
     "api.concurrency.rate_limit_per_second in the base config"},
    {"burst", "api.concurrency.burst in the base config"},
    {"tokens_per_minute",
     "api.concurrency.tokens_per_minute in the base config"},
    {"semaphore_size", "api.concurrency.semaphore_size in the base config"},
    {"http_client", "api.http_client in the base config"},
    {"extra_headers", "api.extra_headers in the base config"},
    {"ca_file", "api.ca_file in the base config"},
    {"insecure_skip_verify", "api.insecure_skip_verify in the base config"},
    {"embedded", "api.embedded in the base config"},
    {"use_chat_for_fim",
     "api.fim.use_chat_for_fim in the base config, or fim_mode: chat in the job"},
    {"prefix_key", "api.fim.prefix_key in the base config"},
    {"suffix_key", "api.fim.suffix_key in the base config"},
    {"tokens", "api.fim.tokens in the base config"},
    {"io", "io.out_names_dir in the base config"},
    {"out_names_dir", "io.out_names_dir in the base config"},
    {"model_config", "model_config in the base config"},
    {"base_config", "base_config at the top of the manifest"},
    {"dedupe", "dedupe at the top of the manifest"},
  };
  for (const auto& [k, home] : table)
    if (key == k)
      return home;
  return nullptr;
}

void check_job_keys(const src_node& job, const std::string& path) {
  for (const auto& [name, child] : job.children) {
    bool ok = false;
    for (const char* k : job_keys)
      if (name == k)
        ok = true;
    if (ok)
      continue;
    if (const char* home = run_level_home(name))
      fail_at_key(child, join(path, name), "a per-job key",
                  std::string("a run-level key (set ") + home + ")");
    std::string list;
    for (const char* k : job_keys)
      list += (list.empty() ? "" : ", ") + std::string(k);
    fail_at_key(child, join(path, name), "one of " + list, "an unknown key");
  }
}

/// Both keys `a` and `b` given: refused at the later of the two. `a_shown`
/// names `a` in the message (e.g. filters.name_regex for filters).
[[noreturn]] void fail_both(const src_node& job, const std::string& path,
                            const char* a, const char* b,
                            const std::string& expected,
                            const char* a_shown = nullptr) {
  const src_node* na = job.find(a);
  const src_node* nb = job.find(b);
  bool a_first = line_of_key(*na) <= line_of_key(*nb);
  const src_node& later = a_first ? *nb : *na;
  const src_node& earlier = a_first ? *na : *nb;
  const char* later_name = a_first ? b : (a_shown ? a_shown : a);
  const char* earlier_name = a_first ? (a_shown ? a_shown : a) : b;
  fail_at_key(later, join(path, later_name), expected,
              std::string("both (") + earlier_name + " on line "
                + std::to_string(line_of_key(earlier)) + ")");
}

uint64_t as_count(const src_node& n, const std::string& path) {
  return static_cast<uint64_t>(as_int(n, path, 1, LLONG_MAX));
}

struct seen_name {
  int line;
  size_t index;
};

manifest_job read_job(const src_node& list, size_t i, const datagen_config& base,
                      std::map<std::string, seen_name>& names) {
  const std::string p = item_path("jobs", i);
  const YAML::Node raw = list.value[i];
  const std::string label = job_label(raw, i);
  if (!raw.IsMap()) {
    src_node it = item(list, i);
    it.ctx = label;
    fail(it, p, "a mapping of job keys", describe(raw));
  }
  const src_node job = build(raw, YAML::Node(), list.file, p, label);
  manifest_job out;

  // name: first, so that every later message names the job.
  const src_node* name = job.find("name");
  if (name == nullptr)
    fail(job, p + ".name", name_expected, missing);
  if (!name->value.IsScalar() || kind_of(name->value) != scalar_kind::string
      || !valid_job_name(name->value.Scalar()))
    fail(*name, p + ".name", name_expected, describe(name->value));
  out.name = name->value.Scalar();
  if (is_reserved_name(out.name))
    fail(*name, p + ".name", reserved_expected, describe(name->value));
  if (auto it = names.find(out.name); it != names.end())
    fail(*name, p + ".name", "a name no other job has",
         quote(out.name) + " again (first on line "
           + std::to_string(it->second.line) + ", jobs["
           + std::to_string(it->second.index) + "])");
  names.emplace(out.name, seen_name{line_of(*name), i});

  check_job_keys(job, p);

  // mode and its prompt keys.
  const src_node* mode = job.find("mode");
  const char* mode_expected = "fim or l2r";
  if (mode == nullptr)
    fail(job, p + ".mode", mode_expected, missing);
  if (!mode->value.IsScalar() || kind_of(mode->value) != scalar_kind::string
      || (mode->value.Scalar() != "fim" && mode->value.Scalar() != "l2r"))
    fail(*mode, p + ".mode", mode_expected, describe(mode->value));
  out.mode = mode->value.Scalar() == "fim" ? job_mode::fim : job_mode::l2r;
  if (out.mode == job_mode::fim) {
    if (const src_node* n = job.find("prompt"))
      fail_at_key(*n, p + ".prompt",
                  "no prompt in a fim job (a fim job takes prefix and suffix)",
                  describe(n->value));
    const src_node* prefix = job.find("prefix");
    if (prefix == nullptr)
      fail(job, p + ".prefix", "a non-empty string (a fim job needs a prefix)",
           missing);
    out.prefix = as_string(*prefix, p + ".prefix", true);
    read_string(&job, "suffix", p + ".suffix", false, out.suffix);
  } else {
    for (const char* k : {"prefix", "suffix", "fim_mode"})
      if (const src_node* n = job.find(k))
        fail_at_key(*n, join(p, k),
                    std::string("no ") + k
                      + " in an l2r job (it is a fim key; an l2r job takes prompt)",
                    describe(n->value));
    const src_node* prompt = job.find("prompt");
    if (prompt == nullptr)
      fail(job, p + ".prompt", "a non-empty string (an l2r job needs a prompt)",
           missing);
    out.prompt = as_string(*prompt, p + ".prompt", true);
  }

  // overrides of the base config, checked as the datagen loader checks them.
  out.model = base.model;
  read_string(&job, "model", p + ".model", true, out.model);
  sampling_params& sp = out.params;
  sp = base.namegen.params;
  read_number(&job, "temperature", p + ".temperature",
              "a number between 0 and 2", 0, false, 2, false, sp.temperature);
  read_number(&job, "top_p", p + ".top_p", "a number > 0 and <= 1", 0, true, 1,
              false, sp.top_p);
  read_int(&job, "max_new_tokens", p + ".max_new_tokens", 1, INT_MAX,
           sp.max_tokens);
  read_int(&job, "n", p + ".n", 1, INT_MAX, sp.n);
  if (const src_node* s = job.find("stop"))
    sp.stop = read_stop(*s, p + ".stop");
  if (const src_node* s = job.find("seed")) {
    if (s->value.IsNull())
      sp.seed.reset(); // `seed: null`: no seed, whatever the base says
    else
      sp.seed = static_cast<int64_t>(as_int(*s, p + ".seed", LLONG_MIN, LLONG_MAX));
  }
  out.fim = base.api.fim;
  if (const src_node* f = job.find("fim_mode")) {
    out.fim.mode = as_fim_mode(*f, p + ".fim_mode");
    out.fim.probe = false; // the job names its mode
    out.fim.use_chat_for_fim = out.fim.mode == fim_mode::chat;
  }
  out.name_regex = base.name_regex;
  if (job.find("name_regex") != nullptr && job.find("filters") != nullptr) {
    const src_node* f = job.find("filters");
    if (f->value.IsMap() && f->find("name_regex") != nullptr)
      fail_both(job, p, "filters", "name_regex",
                "name_regex or filters.name_regex, not both",
                "filters.name_regex");
  }
  if (const src_node* f =
        section(&job, "filters", p + ".filters", {"name_regex"}))
    if (const src_node* n = f->find("name_regex"))
      out.name_regex = as_regex(*n, p + ".filters.name_regex");
  if (const src_node* n = job.find("name_regex"))
    out.name_regex = as_regex(*n, p + ".name_regex");
  // The base config's models: catalogue: an alias names its model, a FIM job
  // needs supports_fim, max_tokens caps max_new_tokens.
  if (const model_entry* e = find_model(base, out.model)) {
    out.model = e->name;
    if (out.mode == job_mode::fim)
      require_fim_support(base, out.model, "job '" + out.name + "'");
    if (e->max_tokens > 0 && sp.max_tokens > e->max_tokens)
      sp.max_tokens = e->max_tokens;
  }
  out.weaklist = base.namegen.weaklist;
  if (const src_node* w = job.find("weaklist"))
    out.weaklist = as_string_list(*w, p + ".weaklist");
  out.stop_when = base.namegen.stop_when;
  if (const src_node* w = job.find("stop_when"))
    out.stop_when = w->value.IsNull() ? stop_rule{}
                                      : as_stop_rule(*w, p + ".stop_when");

  // the budget: num_batches, or target_unique with max_requests.
  const src_node* nb = job.find("num_batches");
  const src_node* tu = job.find("target_unique");
  const src_node* mr = job.find("max_requests");
  if (nb != nullptr && tu != nullptr)
    fail_both(job, p, "num_batches", "target_unique",
              "num_batches or target_unique, not both");
  if (nb == nullptr && tu == nullptr)
    fail(job, p + ".num_batches",
         "num_batches (requests) or target_unique (distinct names) with "
         "max_requests",
         "neither");
  if (nb != nullptr) {
    out.num_batches = as_count(*nb, p + ".num_batches");
    if (mr != nullptr)
      fail_at_key(*mr, p + ".max_requests",
                  "no max_requests with num_batches (it goes with target_unique)",
                  describe(mr->value));
  } else {
    out.target_unique = as_count(*tu, p + ".target_unique");
    if (mr == nullptr)
      fail(job, p + ".max_requests",
           "an integer >= 1 (the request ceiling target_unique needs)", missing);
    out.max_requests = as_count(*mr, p + ".max_requests");
    // Each request brings at most n new names: fewer requests than
    // ceil(target_unique / n) can never reach the target.
    const uint64_t n = static_cast<uint64_t>(sp.n);
    const uint64_t need = out.target_unique / n + (out.target_unique % n != 0);
    if (out.max_requests < need)
      fail(*mr, p + ".max_requests",
           "an integer >= " + std::to_string(need) + " (target_unique "
             + std::to_string(out.target_unique) + " takes at least "
             + std::to_string(need) + " requests of n = " + std::to_string(n)
             + " names)",
           describe(mr->value));
  }
  return out;
}

} // namespace

const char* to_string(dedupe_scope d) {
  return d == dedupe_scope::global ? "global" : "per_job";
}

manifest load_manifest(const std::string& path, const env_lookup& env,
                       config_notes* notes) {
  const src_node root =
    build(parse_file(path, "manifest keys (base_config, dedupe, jobs)"),
          YAML::Node(), path, "");
  check_keys(root, "", {"base_config", "dedupe", "jobs"});
  manifest out;
  out.source_file = path;

  // base_config: relative to the manifest's folder, else to the cwd.
  const src_node* bc = root.find("base_config");
  const fs::path dir = fs::path(path).parent_path();
  const std::string rel =
    dir.empty() ? std::string("(relative to the current directory)")
                : "(relative to '" + dir.string() + "' or the current directory)";
  const std::string bc_expected = "the path of a datagen config " + rel;
  if (bc == nullptr)
    fail(root, "base_config", bc_expected, missing);
  if (!bc->value.IsScalar() || kind_of(bc->value) != scalar_kind::string
      || bc->value.Scalar().empty())
    fail(*bc, "base_config", bc_expected, describe(bc->value));
  const fs::path want(bc->value.Scalar());
  std::vector<fs::path> candidates;
  if (want.is_absolute() || dir.empty()) {
    candidates.push_back(want);
  } else {
    candidates.push_back(dir / want);
    candidates.push_back(want);
  }
  fs::path found;
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(c, ec)) {
      found = c;
      break;
    }
  }
  if (found.empty())
    fail(*bc, "base_config", "an existing datagen config " + rel,
         quote(bc->value.Scalar()));
  out.base = load_datagen_config(found.string(), env, notes);

  if (const src_node* d = root.find("dedupe")) {
    const char* expected = "per_job or global";
    if (!d->value.IsScalar() || kind_of(d->value) != scalar_kind::string)
      fail(*d, "dedupe", expected, describe(d->value));
    if (d->value.Scalar() == "per_job")
      out.dedupe = dedupe_scope::per_job;
    else if (d->value.Scalar() == "global")
      out.dedupe = dedupe_scope::global;
    else
      fail(*d, "dedupe", expected, describe(d->value));
  }

  const src_node* jobs = root.find("jobs");
  const std::string jobs_expected =
    "a non-empty list of jobs (at most " + std::to_string(max_jobs) + ")";
  if (jobs == nullptr)
    fail(root, "jobs", jobs_expected, missing);
  if (!jobs->value.IsSequence() || jobs->value.size() == 0)
    fail(*jobs, "jobs", jobs_expected, describe(jobs->value));
  if (jobs->value.size() > max_jobs)
    fail(*jobs, "jobs", jobs_expected,
         std::to_string(jobs->value.size()) + " jobs");
  std::map<std::string, seen_name> names;
  out.jobs.reserve(jobs->value.size());
  for (size_t i = 0; i < jobs->value.size() && i < max_jobs; ++i)
    out.jobs.push_back(read_job(*jobs, i, out.base, names));
  return out;
}

} // namespace evo
