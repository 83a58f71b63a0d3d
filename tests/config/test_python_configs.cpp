// The Python tool's own config files (../shared/fixtures/upstream-evoselfcode,
// verbatim) load unchanged, and the keys of its layout mean what they mean
// there: catalogue, placeholders, other stages' keys, model_config lookup,
// num_samples, the free-text rule, logging.level.
#include <doctest/doctest.h>

#include "app/config/config_loader.hpp"
#include "app/config/manifest_loader.hpp"
#include "actors/request/openai_protocol.hpp"
#include "tests/config/config_test_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <vector>

using namespace evo;
using namespace evo::test;

namespace {

/// A file of the fixtures; fails (never skips) when they are missing.
std::string fixture(const std::string& rel) {
  const fs::path p =
    fs::path(EVO_SOURCE_DIR) / ".." / "shared" / "fixtures" / "upstream-evoselfcode" / rel;
  REQUIRE_MESSAGE(fs::is_regular_file(p),
                  "fixture missing: " << p.string()
                                      << " (the Python tool's configs are expected in "
                                         "../shared next to the checkout)");
  return p.string();
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("7981d11: datagen.yaml + configs/model.yaml load unchanged") {
  config_notes notes;
  const std::string path = fixture("7981d11/configs/datagen.yaml");
  auto c = load_datagen_config(path, no_env, &notes);
  // from model.yaml, found relative to the project folder holding configs/
  CHECK(c.api.base_url
        == "http://qwen2code32-0.t-skyinfer-wzhang.svc.cluster.local/v1");
  CHECK(c.api.timeout_s == 120);
  CHECK(c.api.max_retries == 5);
  CHECK(c.api.max_concurrent_requests == 5);
  CHECK(c.api.extra_headers.empty());
  CHECK(c.api.fim.mode == fim_mode::special_tokens);
  CHECK(c.api.fim.prefix_token == "<|fim_prefix|>");
  CHECK(c.api.fim.suffix_token == "<|fim_suffix|>");
  CHECK(c.api.fim.middle_token == "<|fim_middle|>");
  CHECK(c.model == "Qwen2.5-Coder-32B");
  REQUIRE(c.models.size() == 2);
  CHECK(c.models[0].alias == "qwen_coder_32b");
  CHECK(c.models[0].name == "Qwen2.5-Coder-32B");
  CHECK(c.models[0].max_tokens == 4096);
  CHECK(c.models[1].name == "deepseek-ai/DeepSeek-V2.5");
  // from datagen.yaml
  CHECK(c.namegen.params.temperature == doctest::Approx(0.4));
  CHECK(c.namegen.params.max_tokens == 16);
  CHECK(c.namegen.params.n == 4);
  CHECK(c.namegen.num_batches == 2);
  CHECK(c.namegen.params.stop == std::vector<std::string>{"(", " ", "\n"});
  CHECK(c.namegen.weaklist.size() == 12);
  CHECK(c.namegen.extract == extract_kind::name);
  CHECK(c.name_regex == "^[a-z_][a-z0-9_]{2,64}$");
  CHECK(c.out_names_dir == "data/generated/names");
  // what the log tells
  REQUIRE(notes.warnings.size() == 1);
  CHECK(notes.warnings[0]
        == path + ":7: key 'api': 'pass' (a Python placeholder) where a mapping "
                  "goes: ignored");
  CHECK(contains(notes.info, "model_config \"configs/model.yaml\" of " + path
                               + ": using "));
  CHECK(contains(notes.info, "(relative to the project folder holding configs/)"));
  CHECK(contains(notes.info,
                 "not used by this command: codegen, prompts.codegen, "
                 "prompts.global_prefix, filters.min_code_len, filters.enable_ast, "
                 "filters.enable_ruff, io.input_desc_path, io.out_code_dir, "
                 "io.shard_size"));
  CHECK_FALSE(notes.log_level.has_value());
}

TEST_CASE("41dbf68: configs/datagen/{fim,l2r}.yaml load unchanged, free text") {
  for (const char* mode : {"fim", "l2r"}) {
    CAPTURE(mode);
    config_notes notes;
    auto c = load_datagen_config(
      fixture(std::string("41dbf68/configs/datagen/") + mode + ".yaml"), no_env,
      &notes);
    CHECK(c.api.max_concurrent_requests == 256);
    CHECK(c.model == "Qwen2.5-Coder-32B");
    CHECK(c.namegen.num_samples == 100000);
    CHECK(c.namegen.params.n == 1);
    CHECK(c.namegen.num_batches == 100000);
    CHECK(c.namegen.params.max_tokens == 2048);
    CHECK(c.namegen.params.temperature == doctest::Approx(1.0));
    CHECK(c.namegen.extract == extract_kind::text);
    CHECK(c.namegen.params.stop
          == std::vector<std::string>{std::string(mode) == "fim" ? "---"
                                                                 : "\n\n---"});
    CHECK(notes.log_level == std::optional<std::string>("info"));
    CHECK(contains(notes.info, "(relative to the configs folder)"));
    CHECK(contains(notes.info, "namegen.extract: text (the config sets "
                               "namegen.num_samples and has no filters section"));
    if (std::string(mode) == "fim") {
      CHECK(c.prompts.fim_prefix.rfind("You are an expert algorithm problem", 0) == 0);
      CHECK(c.prompts.fim_suffix == "\n---\n\nProblem 5:\n");
    } else {
      CHECK(c.prompts.l2r_prompt.find("Problem 4:\n") != std::string::npos);
    }
  }
}

TEST_CASE("the free-text rule: num_samples without filters; extract wins") {
  temp_dir d;
  write(d.path / "a.yaml", "namegen:\n  num_samples: 10\n  n: 4\n");
  auto a = load_datagen_config(d.file("a.yaml"), no_env);
  CHECK(a.namegen.extract == extract_kind::text);
  CHECK(a.namegen.num_batches == 3); // ceil(10 / 4)
  write(d.path / "b.yaml",
        "namegen:\n  num_samples: 10\nfilters:\n  name_regex: \"^x$\"\n");
  CHECK(load_datagen_config(d.file("b.yaml"), no_env).namegen.extract
        == extract_kind::name);
  write(d.path / "c.yaml", "namegen:\n  num_samples: 10\n  extract: name\n");
  CHECK(load_datagen_config(d.file("c.yaml"), no_env).namegen.extract
        == extract_kind::name);
  write(d.path / "e.yaml",
        "namegen:\n  num_batches: 2\n  extract: text\nfilters:\n  min_chars: 5\n"
        "  max_chars: 900\n");
  auto e = load_datagen_config(d.file("e.yaml"), no_env);
  CHECK(e.namegen.extract == extract_kind::text);
  CHECK(e.min_chars == 5);
  CHECK(e.max_chars == 900);
}

TEST_CASE("models: default names an alias or a model; max_tokens caps; supports_fim") {
  temp_dir d;
  write(d.path / "m.yaml",
        "models:\n"
        "  default: small\n"
        "  small:\n"
        "    name: Small-1B\n"
        "    max_tokens: 8\n"
        "    supports_fim: false\n"
        "  big:\n"
        "    name: Big-70B\n"
        "namegen:\n"
        "  max_new_tokens: 64\n");
  config_notes notes;
  auto c = load_datagen_config(d.file("m.yaml"), no_env, &notes);
  CHECK(c.model == "Small-1B");
  CHECK(c.namegen.params.max_tokens == 8);
  CHECK(contains(notes.info, "namegen.max_new_tokens 64 capped to 8 (models.small"));
  CHECK(find_model(c, "small") == &c.models[0]);
  CHECK(find_model(c, "Big-70B") == &c.models[1]);
  CHECK(find_model(c, "other") == nullptr);
  CHECK(error_of([&] { require_fim_support(c, c.model, "--mode fim"); })
        == d.file("m.yaml")
             + ":3: key 'models.small.supports_fim': model \"Small-1B\" does not "
               "support FIM, but --mode fim is a FIM job (use l2r mode, or a "
               "model whose supports_fim is true)");
  CHECK(error_of([&] { require_fim_support(c, "Big-70B", "x"); }).empty());
  CHECK(error_of([&] { require_fim_support(c, "unlisted", "x"); }).empty());
  // default naming the model itself (the Python files do) finds the entry too
  write(d.path / "n.yaml",
        "models:\n  default: Small-1B\n  small:\n    name: Small-1B\n"
        "    max_tokens: 8\n");
  CHECK(load_datagen_config(d.file("n.yaml"), no_env).namegen.params.max_tokens == 8);
}

TEST_CASE("Python spellings: api.headers, api.fim.*_token, namegen.max_tokens") {
  temp_dir d;
  write(d.path / "h.yaml",
        "api:\n  headers:\n    X-Tenant: t1\n  extra_headers: {}\n"
        "  fim:\n    prefix_token: \"<PRE>\"\n    suffix_token: \"<SUF>\"\n"
        "    middle_token: \"<MID>\"\n    tokens:\n      prefix: \"<PRE>\"\n"
        "namegen:\n  max_tokens: 33\n  max_new_tokens: 33\n");
  auto c = load_datagen_config(d.file("h.yaml"), no_env);
  REQUIRE(c.api.extra_headers.size() == 1);
  CHECK(c.api.extra_headers[0].first == "X-Tenant");
  CHECK(c.api.extra_headers[0].second == "t1");
  CHECK(c.api.fim.prefix_token == "<PRE>");
  CHECK(c.api.fim.suffix_token == "<SUF>");
  CHECK(c.api.fim.middle_token == "<MID>");
  CHECK(c.namegen.params.max_tokens == 33);
}

TEST_CASE("a `pass` placeholder in a section keeps the model file's values") {
  temp_dir d;
  write(d.path / "model.yaml", "namegen:\n  n: 7\n");
  write(d.path / "datagen.yaml", "model_config: model.yaml\nnamegen:\n  pass\n");
  config_notes notes;
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env, &notes);
  CHECK(c.namegen.params.n == 7);
  REQUIRE(notes.warnings.size() == 1);
  CHECK(notes.warnings[0].find(":3: key 'namegen': 'pass'") != std::string::npos);
  // quoted, it is a string, not the placeholder
  write(d.path / "q.yaml", "namegen: \"pass\"\n");
  CHECK(error_of([&] { load_datagen_config(d.file("q.yaml"), no_env); })
        == d.file("q.yaml") + ":1: key 'namegen': expected a mapping, got \"pass\"");
}

TEST_CASE("model_config: the file's folder, then configs/, then its project, then cwd") {
  temp_dir d;
  const fs::path proj = d.path / "proj";
  write(proj / "configs" / "datagen" / "fim.yaml", "model_config: model.yaml\n");
  write(proj / "configs" / "model.yaml", "api:\n  max_retries: 1\n");
  write(proj / "configs" / "datagen" / "near.yaml", "model_config: m2.yaml\n");
  write(proj / "configs" / "datagen" / "m2.yaml", "api:\n  max_retries: 2\n");
  write(proj / "configs" / "m2.yaml", "api:\n  max_retries: 20\n");
  write(proj / "configs" / "old.yaml", "model_config: configs/model.yaml\n");
  write(proj / "configs" / "cwd.yaml", "model_config: only_here.yaml\n");
  // decoys in the current directory
  write(d.path / "model.yaml", "api:\n  max_retries: 9\n");
  write(d.path / "configs" / "model.yaml", "api:\n  max_retries: 9\n");
  write(d.path / "only_here.yaml", "api:\n  max_retries: 4\n");
  cwd_guard here(d.path);
  CHECK(load_datagen_config((proj / "configs/datagen/fim.yaml").string(), no_env)
          .api.max_retries == 1);
  CHECK(load_datagen_config((proj / "configs/datagen/near.yaml").string(), no_env)
          .api.max_retries == 2);
  CHECK(load_datagen_config((proj / "configs/old.yaml").string(), no_env)
          .api.max_retries == 1);
  config_notes notes;
  CHECK(load_datagen_config((proj / "configs/cwd.yaml").string(), no_env, &notes)
          .api.max_retries == 4);
  CHECK(contains(notes.info, "using only_here.yaml (relative to the current directory)"));
}

TEST_CASE("an unparsable base URL is refused: port, brackets, empty host") {
  for (const char* bad :
       {"http://127.0.0.1:99999", "http://h:0/v1", "http://h:x/v1", "http://h:/v1",
        "http://[::1/v1", "http://[]:80", "http://[::1]x/v1", "http://u:p@/v1",
        "http://:80/v1", "http://h<x>/v1", "http://h:123456/v1"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { normalize_base_url(bad, "--base-url"); })
            .rfind("--base-url: expected an http:// or https:// URL", 0)
          == 0);
  }
  CHECK(normalize_base_url("http://[::1]:8000", "x") == "http://[::1]:8000/v1");
  CHECK(normalize_base_url("http://u:p@ss@h:1/v1", "x") == "http://u:p@ss@h:1/v1");
  CHECK(normalize_base_url("https://h:65535", "x") == "https://h:65535/v1");
}

TEST_CASE("PyYAML's folded quoted scalars load to Python's values") {
  temp_dir d;
  // yaml.safe_dump({"namegen": {"stop": ["\n"]}}), byte for byte
  write(d.path / "py.yaml", "namegen:\n  stop:\n  - '\n\n    '\n");
  CHECK(load_datagen_config(d.file("py.yaml"), no_env).namegen.params.stop
        == std::vector<std::string>{"\n"});
  // the same list with other items, as safe_dump writes a longer list
  write(d.path / "py2.yaml", "namegen:\n  stop:\n  - (\n  - ' '\n  - '\n\n    '\n");
  CHECK(load_datagen_config(d.file("py2.yaml"), no_env).namegen.params.stop
        == std::vector<std::string>{"(", " ", "\n"});
  // Each value below is what PyYAML's safe_load gives for the text.
  const std::pair<const char*, const char*> cases[] = {
    {"\"\n\n    \"", "\n"},
    {"'a\n  b'", "a b"},
    {"'a\n\n  b'", "a\nb"},
    {"\"a\\\n  b\"", "ab"},
    {"'\n\n\n  '", "\n\n"},
    {"' x\n\n  '", " x\n"},
    {"\"a\\t\n  b\"", "a\t b"},
    {"\"x \\\n   y\"", "x y"},
    {"\"\\u00e9\n\n  \\x41\"", "\xc3\xa9\nA"},
    {"'it''s\n  ok'", "it's ok"},
    {"\"a  \n\n\n  b  \"", "a\n\nb  "},
    {"\"\\\\\n  b\"", "\\ b"},
    {"'\n  '", " "},
  };
  for (const auto& [yaml, want] : cases) {
    CAPTURE(yaml);
    write(d.path / "c.yaml", std::string("prompts:\n  funcname:\n    l2r:\n      prompt: ")
                               + yaml + "\n");
    CHECK(load_datagen_config(d.file("c.yaml"), no_env).prompts.l2r_prompt == want);
  }
}

TEST_CASE("config files must be regular files of at most 64 MiB") {
  temp_dir d;
  CHECK(error_of([] { load_datagen_config("/dev/zero", no_env); })
        == "/dev/zero: cannot read: expected a regular file, got a character device");
  // a file just over the limit (sparse: no 64 MiB written)
  {
    std::ofstream big(d.file("big.yaml"));
    big << "namegen: {}\n";
  }
  fs::resize_file(d.file("big.yaml"), max_config_file_bytes + 1);
  CHECK(error_of([&] { load_datagen_config(d.file("big.yaml"), no_env); })
        == d.file("big.yaml") + ": cannot read: expected a file of at most 64 MiB, got "
             + std::to_string(max_config_file_bytes + 1) + " bytes");
  // a FIFO named by model_config, and a manifest's base_config: refused at
  // once. If the open blocked, the writer opened below would release it.
  REQUIRE(::mkfifo(d.file("model.yaml").c_str(), 0600) == 0);
  write(d.path / "datagen.yaml", "model_config: model.yaml\n");
  write(d.path / "manifest.yaml", "base_config: model.yaml\njobs: []\n");
  auto result = std::async(std::launch::async, [&] {
    return error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); })
           + "|"
           + error_of([&] { load_manifest(d.file("manifest.yaml"), no_env); });
  });
  if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    int fd = ::open(d.file("model.yaml").c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0)
      ::close(fd);
    FAIL("loading a config named FIFO blocked");
  }
  const std::string fifo =
    d.file("model.yaml") + ": cannot read: expected a regular file, got a FIFO";
  CHECK(result.get() == fifo + "|" + fifo);
}

TEST_CASE("manifest jobs use the base config's models: catalogue") {
  temp_dir d;
  write(d.path / "datagen.yaml",
        "models:\n  default: big\n  small:\n    name: Small-1B\n    max_tokens: 8\n"
        "    supports_fim: false\n  big:\n    name: Big-70B\n"
        "namegen:\n  max_new_tokens: 64\n");
  write(d.path / "ok.yaml",
        "base_config: datagen.yaml\njobs:\n"
        "  - {name: a, mode: l2r, prompt: \"def \", model: small, num_batches: 1}\n"
        "  - {name: b, mode: fim, prefix: \"def \", num_batches: 1}\n");
  auto m = load_manifest(d.file("ok.yaml"), no_env);
  CHECK(m.jobs[0].model == "Small-1B");
  CHECK(m.jobs[0].params.max_tokens == 8);
  CHECK(m.jobs[1].model == "Big-70B");
  CHECK(m.jobs[1].params.max_tokens == 64);
  write(d.path / "bad.yaml",
        "base_config: datagen.yaml\njobs:\n"
        "  - {name: c, mode: fim, prefix: \"def \", model: Small-1B, num_batches: 1}\n");
  CHECK(error_of([&] { load_manifest(d.file("bad.yaml"), no_env); })
        == d.file("datagen.yaml")
             + ":3: key 'models.small.supports_fim': model \"Small-1B\" does not "
               "support FIM, but job 'c' is a FIM job (use l2r mode, or a model "
               "whose supports_fim is true)");
}

TEST_CASE("namegen.extra_body: merged into every request body") {
  temp_dir d;
  write(d.path / "x.yaml",
        "namegen:\n  n: 2\n  extra_body:\n    logprobs: 1\n    repetition_penalty: 1.1\n"
        "    chat_template_kwargs: {enable_thinking: false}\n    tags: [a, \"b\"]\n");
  auto c = load_datagen_config(d.file("x.yaml"), no_env);
  auto body = nlohmann::json::parse(
    build_l2r_request(c.model, "def ", c.namegen.params).body);
  CHECK(body["logprobs"] == 1);
  CHECK(body["repetition_penalty"].get<double>() == doctest::Approx(1.1));
  CHECK(body["chat_template_kwargs"]["enable_thinking"] == false);
  CHECK(body["tags"] == nlohmann::json::array({"a", "b"}));
  CHECK(body["n"] == 2);
  CHECK(body["prompt"] == "def ");
  auto fim = nlohmann::json::parse(
    build_fim_request(c.api.fim, c.model, "p", "s", c.namegen.params).body);
  CHECK(fim["logprobs"] == 1);
  // the keys this tool sets itself, and values JSON cannot hold, are refused
  write(d.path / "own.yaml", "namegen:\n  extra_body:\n    n: 4\n");
  CHECK(error_of([&] { load_datagen_config(d.file("own.yaml"), no_env); })
        == d.file("own.yaml")
             + ":3: key 'namegen.extra_body.n': expected a field this tool does not "
               "set itself (model, prompt, suffix, messages, stream and the "
               "namegen.* sampling keys are set elsewhere), got \"n\"");
  write(d.path / "nan.yaml", "namegen:\n  extra_body:\n    x: .nan\n");
  CHECK(error_of([&] { load_datagen_config(d.file("nan.yaml"), no_env); })
        == d.file("nan.yaml")
             + ":3: key 'namegen.extra_body.x': expected a finite number (JSON has "
               "no .nan or .inf), got .nan");
  write(d.path / "list.yaml", "namegen:\n  extra_body: [1]\n");
  CHECK(error_of([&] { load_datagen_config(d.file("list.yaml"), no_env); })
        .find("key 'namegen.extra_body': expected a mapping") != std::string::npos);
}
