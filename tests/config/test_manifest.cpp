// Job manifests: the shipped example, inheritance from the base config,
// per-job overrides that stay in their job, base_config resolution, and a
// corpus of broken manifests whose exact messages are pinned
// (tests/config/manifest_corpus/README.md).
#include <doctest/doctest.h>

#include "app/config/manifest_loader.hpp"
#include "tests/config/config_test_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace evo;

using namespace evo::test;

namespace {

const manifest_job& job_named(const manifest& m, const std::string& name) {
  for (const auto& j : m.jobs)
    if (j.name == name)
      return j;
  FAIL("no job " << name);
  return m.jobs.front();
}

/// A base config with values that differ from the struct defaults, so that
/// inheritance is visible.
const char* base_yaml = R"(api:
  fim:
    mode: suffix
models:
  default: base-model
namegen:
  temperature: 0.7
  top_p: 0.9
  max_new_tokens: 12
  n: 5
  num_batches: 99
  stop: [";"]
  seed: 7
  weaklist: [main, foo]
filters:
  name_regex: "^[a-z]+$"
io:
  out_names_dir: out/names
)";

} // namespace

TEST_CASE("the shipped example manifest loads with its jobs and the base values") {
  const std::string path = source("configs/manifests/example.yaml");
  auto m = load_manifest(path, no_env);
  CHECK(m.source_file == path);
  CHECK(m.dedupe == dedupe_scope::per_job);
  CHECK(std::string(to_string(m.dedupe)) == "per_job");
  CHECK(m.base.source_file == source("configs/manifests/../datagen.yaml"));
  CHECK(m.base.api.is_embedded());
  CHECK(m.base.out_names_dir == "data/generated/names");
  REQUIRE(m.jobs.size() == 5);
  CHECK(m.jobs[0].name == "fim_t04");
  CHECK(m.jobs[1].name == "l2r_t04");
  CHECK(m.jobs[2].name == "fim_t10");
  CHECK(m.jobs[3].name == "l2r_t10");
  CHECK(m.jobs[4].name == "fim_target");
  const std::string text = "This is an algorithm function.\n\ndef ";
  for (const auto& j : m.jobs) {
    CAPTURE(j.name);
    // Inherited from configs/datagen.yaml + model.yaml.
    CHECK(j.model == "Qwen2.5-Coder-32B");
    CHECK(j.params.top_p == doctest::Approx(0.95));
    CHECK(j.params.max_tokens == 16);
    CHECK(j.params.n == 8);
    CHECK(j.params.stop == std::vector<std::string>{"(", " ", "\n"});
    CHECK_FALSE(j.params.seed.has_value());
    CHECK(j.fim.mode == fim_mode::special_tokens);
    CHECK(j.fim.prefix_token == "<|fim_prefix|>");
    CHECK(j.name_regex == "^[a-z_][a-z0-9_]{2,63}$");
    CHECK(j.weaklist == m.base.namegen.weaklist);
    CHECK(j.weaklist.size() == 10);
    // The same prompt text both ways: an A/B comparison.
    if (j.mode == job_mode::fim) {
      CHECK(j.prefix == text);
      CHECK(j.suffix == "():\n");
      CHECK(j.prompt.empty());
    } else {
      CHECK(j.prompt == text);
      CHECK(j.prefix.empty());
      CHECK(j.suffix.empty());
    }
  }
  CHECK(m.jobs[0].mode == job_mode::fim);
  CHECK(m.jobs[1].mode == job_mode::l2r);
  CHECK(m.jobs[2].mode == job_mode::fim);
  CHECK(m.jobs[3].mode == job_mode::l2r);
  CHECK(m.jobs[0].params.temperature == doctest::Approx(0.4));
  CHECK(m.jobs[1].params.temperature == doctest::Approx(0.4));
  CHECK(m.jobs[2].params.temperature == doctest::Approx(1.0));
  CHECK(m.jobs[3].params.temperature == doctest::Approx(1.0));
  CHECK(m.jobs[4].params.temperature == doctest::Approx(1.2));
  for (size_t i : {0u, 1u, 2u, 3u}) {
    CHECK(m.jobs[i].num_batches == 15);
    CHECK(m.jobs[i].target_unique == 0);
    CHECK(m.jobs[i].max_requests == 0);
  }
  CHECK(m.jobs[4].num_batches == 0);
  CHECK(m.jobs[4].target_unique == 150);
  CHECK(m.jobs[4].max_requests == 200);
}

TEST_CASE("the example loads from the repository root too (relative path)") {
  cwd_guard here(EVO_SOURCE_DIR);
  auto m = load_manifest("configs/manifests/example.yaml", no_env);
  CHECK(m.base.source_file == "configs/manifests/../datagen.yaml");
  CHECK(m.jobs.size() == 5);
}

TEST_CASE("overrides apply to their job only; other jobs keep the base values") {
  temp_dir d;
  write(d.path / "datagen.yaml", base_yaml);
  write(d.path / "manifest.yaml", R"(base_config: datagen.yaml
dedupe: global
jobs:
  - name: plain
    mode: fim
    prefix: "def "
    num_batches: 2
  - name: Tuned-1.x
    mode: fim
    prefix: "class "
    suffix: ""
    model: other-model
    temperature: 1.5
    top_p: 0.5
    n: 3
    stop: "("
    max_new_tokens: 40
    seed: -3
    fim_mode: chat
    filters:
      name_regex: "^x"
    weaklist: []
    target_unique: 10
    max_requests: 4
  - name: l2r_plain
    mode: l2r
    prompt: "def "
    seed: null
    name_regex: "^y"
    weaklist: [bar]
    stop: []
    num_batches: 1
  - {name: flow, mode: l2r, prompt: "x", num_batches: 3}
)");
  auto m = load_manifest(d.file("manifest.yaml"), no_env);
  CHECK(m.dedupe == dedupe_scope::global);
  CHECK(std::string(to_string(m.dedupe)) == "global");
  REQUIRE(m.jobs.size() == 4);

  auto check_base = [&](const manifest_job& j) {
    CAPTURE(j.name);
    CHECK(j.model == "base-model");
    CHECK(j.params.temperature == doctest::Approx(0.7));
    CHECK(j.params.top_p == doctest::Approx(0.9));
    CHECK(j.params.n == 5);
    CHECK(j.params.max_tokens == 12);
  };
  const auto& plain = job_named(m, "plain");
  check_base(plain);
  CHECK(plain.params.stop == std::vector<std::string>{";"});
  CHECK(plain.params.seed == std::optional<int64_t>(7));
  CHECK(plain.fim.mode == fim_mode::suffix);
  CHECK_FALSE(plain.fim.use_chat_for_fim);
  CHECK(plain.name_regex == "^[a-z]+$");
  CHECK(plain.weaklist == std::vector<std::string>{"main", "foo"});
  CHECK(plain.suffix.empty()); // no default suffix: "" unless given
  CHECK(plain.num_batches == 2);

  const auto& t = job_named(m, "Tuned-1.x");
  CHECK(t.prefix == "class ");
  CHECK(t.model == "other-model");
  CHECK(t.params.temperature == doctest::Approx(1.5));
  CHECK(t.params.top_p == doctest::Approx(0.5));
  CHECK(t.params.n == 3);
  CHECK(t.params.stop == std::vector<std::string>{"("});
  CHECK(t.params.max_tokens == 40);
  CHECK(t.params.seed == std::optional<int64_t>(-3));
  CHECK(t.fim.mode == fim_mode::chat);
  CHECK(t.fim.use_chat_for_fim);
  CHECK(t.name_regex == "^x");
  CHECK(t.weaklist.empty());
  CHECK(t.num_batches == 0);
  CHECK(t.target_unique == 10);
  CHECK(t.max_requests == 4); // ceil(10 / 3) = 4: just possible

  const auto& l = job_named(m, "l2r_plain");
  check_base(l);
  CHECK(l.prompt == "def ");
  CHECK_FALSE(l.params.seed.has_value()); // seed: null clears the base seed
  CHECK(l.params.stop.empty());
  CHECK(l.name_regex == "^y");
  CHECK(l.weaklist == std::vector<std::string>{"bar"});
  CHECK(l.fim.mode == fim_mode::suffix);

  const auto& f = job_named(m, "flow");
  check_base(f);
  CHECK(f.params.seed == std::optional<int64_t>(7));
  CHECK(f.params.stop == std::vector<std::string>{";"});
  CHECK(f.name_regex == "^[a-z]+$");
  CHECK(f.weaklist == std::vector<std::string>{"main", "foo"});
  CHECK(f.num_batches == 3);

  // The base itself is untouched.
  CHECK(m.base.model == "base-model");
  CHECK(m.base.namegen.params.temperature == doctest::Approx(0.7));
  CHECK(m.base.out_names_dir == "out/names");
}

TEST_CASE("base_config: the manifest's folder first, then the current directory") {
  temp_dir d;
  write(d.path / "m" / "datagen.yaml", "models: {default: in-folder}\n");
  write(d.path / "datagen.yaml", "models: {default: in-cwd}\n");
  write(d.path / "other.yaml", "models: {default: only-cwd}\n");
  const char* job = "jobs:\n  - {name: a, mode: l2r, prompt: p, num_batches: 1}\n";
  write(d.path / "m" / "a.yaml", std::string("base_config: datagen.yaml\n") + job);
  write(d.path / "m" / "b.yaml", std::string("base_config: other.yaml\n") + job);
  write(d.path / "m" / "c.yaml",
        "base_config: " + d.file("other.yaml") + "\n" + job);
  cwd_guard here(d.path);
  auto a = load_manifest("m/a.yaml", no_env);
  CHECK(a.base.model == "in-folder");
  CHECK(a.base.source_file == "m/datagen.yaml");
  CHECK(a.jobs.front().model == "in-folder");
  auto b = load_manifest("m/b.yaml", no_env);
  CHECK(b.base.model == "only-cwd");
  CHECK(b.base.source_file == "other.yaml");
  auto c = load_manifest("m/c.yaml", no_env);
  CHECK(c.base.model == "only-cwd");
  // Not found anywhere: the manifest's line, and where it looked.
  write(d.path / "m" / "e.yaml", std::string("base_config: nope.yaml\n") + job);
  CHECK(error_of([] { load_manifest("m/e.yaml", no_env); })
        == "m/e.yaml:1: key 'base_config': expected an existing datagen config "
           "(relative to 'm' or the current directory), got \"nope.yaml\"");
  // An error in the base config is the datagen loader's, with its path.
  write(d.path / "m" / "bad.yaml", "namegen:\n  top_p: 2\n");
  write(d.path / "m" / "f.yaml", std::string("base_config: bad.yaml\n") + job);
  CHECK(error_of([] { load_manifest("m/f.yaml", no_env); })
        == "m/bad.yaml:2: key 'namegen.top_p': expected a number > 0 and <= 1, got 2");
}

TEST_CASE("the environment lookup reaches the base config's api key") {
  temp_dir d;
  write(d.path / "datagen.yaml", "api: {api_key_env: MY_KEY}\n");
  write(d.path / "manifest.yaml",
        "base_config: datagen.yaml\njobs:\n  - {name: a, mode: l2r, prompt: p, num_batches: 1}\n");
  auto m = load_manifest(d.file("manifest.yaml"), fake_env({{"MY_KEY", "k-123"}}));
  CHECK(m.base.api.api_key == "k-123");
}

TEST_CASE("job names: 100 characters at most, [A-Za-z0-9_.-], no '.' or '..'") {
  temp_dir d;
  write(d.path / "datagen.yaml", "namegen: {n: 1}\n");
  auto with_name = [&](const std::string& name) {
    write(d.path / "manifest.yaml",
          "base_config: datagen.yaml\njobs:\n  - name: \"" + name
            + "\"\n    mode: l2r\n    prompt: p\n    num_batches: 1\n");
    return error_of([&] { load_manifest(d.file("manifest.yaml"), no_env); });
  };
  CHECK(with_name(std::string(100, 'a')) == "");
  CHECK(with_name("a.b-c_D9") == "");
  CHECK(with_name(".hidden") == "");
  for (const std::string& bad :
       {std::string(101, 'a'), std::string("."), std::string(".."),
        std::string("a/b"), std::string("caf\xc3\xa9"), std::string("a b"),
        std::string("a\\b")}) {
    CAPTURE(bad);
    std::string e = with_name(bad);
    CHECK(e.find(": job 0: key 'jobs[0].name': expected a job name") != std::string::npos);
  }
}

TEST_CASE("many jobs load in file order") {
  temp_dir d;
  write(d.path / "datagen.yaml", "namegen: {n: 2}\n");
  std::string text = "base_config: datagen.yaml\njobs:\n";
  constexpr int count = 300;
  for (int i = 0; i < count; ++i)
    text += "  - {name: j" + std::to_string(i) + ", mode: " + (i % 2 ? "l2r" : "fim")
            + ", " + (i % 2 ? "prompt" : "prefix") + ": p, num_batches: "
            + std::to_string(i + 1) + "}\n";
  write(d.path / "manifest.yaml", text);
  auto m = load_manifest(d.file("manifest.yaml"), no_env);
  REQUIRE(m.jobs.size() == count);
  for (int i = 0; i < count; ++i) {
    CHECK(m.jobs[i].name == "j" + std::to_string(i));
    CHECK(m.jobs[i].num_batches == static_cast<uint64_t>(i + 1));
  }
}

// The corpus: tests/config/manifest_corpus/<case>/ holds manifest.yaml (and
// the files it names) plus expected.txt, the exact error message. Each case
// is loaded as load_manifest("manifest.yaml") from inside its folder.
TEST_CASE("every broken manifest of the corpus fails with its exact message") {
  const fs::path corpus = source("tests/config/manifest_corpus");
  auto cases = corpus_cases(corpus);
  CHECK(cases.size() >= 15);
  for (const auto& dir : cases) {
    const std::string name = dir.filename().string();
    CAPTURE(name);
    std::string expected = expected_message(dir);
    std::string got;
    {
      cwd_guard here(dir);
      got = error_of([] { load_manifest("manifest.yaml", no_env); });
    }
    CHECK(!got.empty());
    CHECK(got == expected);
    CHECK(got.find('\n') == std::string::npos);
  }
}
