// Config loading: the shipped configs, deep merge, model_config resolution,
// base_url normalisation, the api key, and a corpus of broken configs whose
// exact error messages are pinned (tests/config/corpus/README.md).
#include <doctest/doctest.h>

#include "app/config/config_loader.hpp"
#include "tests/config/config_test_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace evo;

using namespace evo::test;


TEST_CASE("the shipped configs load and give the documented values") {
  auto c = load_datagen_config(source("configs/datagen.yaml"), no_env);
  CHECK(c.source_file == source("configs/datagen.yaml"));
  CHECK(c.api.base_url == "embedded");
  CHECK(c.api.is_embedded());
  CHECK(c.api.api_key.empty());
  CHECK(c.api.api_key_env == "OPENAI_API_KEY");
  CHECK(c.api.timeout_s == 60);
  CHECK(c.api.max_retries == 3);
  CHECK(c.api.backoff_base_s == 1);
  CHECK(c.api.backoff_max_s == 60);
  CHECK(c.api.max_concurrent_requests == 16);
  CHECK_FALSE(c.api.rate_limit_per_second.has_value());
  CHECK(c.api.semaphore_size == 16);
  CHECK(c.api.max_in_flight() == 16);
  CHECK(c.api.http_client == http_client_kind::automatic);
  CHECK(c.api.ca_file.empty());
  CHECK_FALSE(c.api.insecure_skip_verify);
  CHECK(c.api.fim.mode == fim_mode::special_tokens);
  CHECK_FALSE(c.api.fim.use_chat_for_fim);
  CHECK(c.api.fim.prefix_key == "prefix");
  CHECK(c.api.fim.suffix_key == "suffix");
  CHECK(c.api.fim.prefix_token == "<|fim_prefix|>");
  CHECK(c.api.fim.suffix_token == "<|fim_suffix|>");
  CHECK(c.api.fim.middle_token == "<|fim_middle|>");
  CHECK(c.api.embedded.latency_ms == 20);
  CHECK(c.api.embedded.jitter_ms == 10);
  CHECK(c.model == "Qwen2.5-Coder-32B");
  CHECK(c.namegen.params.temperature == doctest::Approx(0.8));
  CHECK(c.namegen.params.top_p == doctest::Approx(0.95));
  CHECK(c.namegen.params.max_tokens == 16);
  CHECK(c.namegen.params.n == 8);
  CHECK(c.namegen.num_batches == 20);
  CHECK(c.namegen.params.stop == std::vector<std::string>{"(", " ", "\n"});
  CHECK_FALSE(c.namegen.params.seed.has_value());
  CHECK(c.namegen.weaklist
        == std::vector<std::string>{"main", "test", "solution", "foo", "bar",
                                    "func", "function", "helper", "solve", "run"});
  CHECK(c.prompts.fim_prefix == "This is an algorithm function.\n\ndef ");
  CHECK(c.prompts.fim_suffix == "():\n");
  CHECK(c.prompts.l2r_prompt == "This is an algorithm function.\n\ndef ");
  CHECK(c.name_regex == "^[a-z_][a-z0-9_]{2,63}$");
  CHECK(c.out_names_dir == "data/generated/names");
}

TEST_CASE("the shipped model.yaml alone loads too") {
  auto c = load_datagen_config(source("configs/model.yaml"), no_env);
  CHECK(c.api.base_url == "embedded");
  CHECK(c.namegen.params.stop == std::vector<std::string>{"(", " ", "\n"});
  CHECK(c.namegen.params.n == 1); // struct default
}

TEST_CASE("a file with no keys at all gives the struct defaults") {
  temp_dir d;
  write(d.path / "datagen.yaml", "namegen: {}\n");
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env);
  datagen_config def;
  CHECK(c.api.base_url == def.api.base_url);
  CHECK(c.api.max_concurrent_requests == def.api.max_concurrent_requests);
  CHECK(c.api.timeout_s == def.api.timeout_s);
  CHECK(c.namegen.params.n == def.namegen.params.n);
  CHECK(c.namegen.num_batches == def.namegen.num_batches);
  CHECK(c.name_regex == def.name_regex);
  CHECK(c.out_names_dir == def.out_names_dir);
  CHECK(c.model == def.model);
}

TEST_CASE("semaphore_size unset adds no cap: the pool is the in-flight cap") {
  temp_dir d;
  write(d.path / "datagen.yaml",
        "api:\n  concurrency:\n    max_concurrent_requests: 40\n");
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK_FALSE(c.api.semaphore_size.has_value());
  CHECK(c.api.max_in_flight() == 40);
  write(d.path / "datagen.yaml",
        "api:\n  concurrency:\n    max_concurrent_requests: 40\n"
        "    semaphore_size: 12\n");
  c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK(c.api.max_in_flight() == 12);
}

TEST_CASE("api.concurrency.adaptive and min: off and 1 by default, read, "
          "min above the pool refused") {
  temp_dir d;
  write(d.path / "datagen.yaml",
        "api:\n  concurrency:\n    max_concurrent_requests: 40\n");
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK_FALSE(c.api.adaptive);
  CHECK(c.api.concurrency_min == 1);
  write(d.path / "datagen.yaml",
        "api:\n  concurrency:\n    max_concurrent_requests: 40\n"
        "    adaptive: true\n    min: 4\n");
  c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK(c.api.adaptive);
  CHECK(c.api.concurrency_min == 4);
  write(d.path / "datagen.yaml",
        "api:\n  concurrency:\n    max_concurrent_requests: 40\n"
        "    adaptive: true\n    min: 41\n");
  auto msg = error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); });
  CHECK(msg.find("datagen.yaml:5") != std::string::npos);
  CHECK(msg.find("api.concurrency.min") != std::string::npos);
  CHECK(msg.find("<= api.concurrency.max_concurrent_requests (40)") != std::string::npos);
  write(d.path / "datagen.yaml",
        "api:\n  concurrency:\n    adaptive: maybe\n");
  msg = error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); });
  CHECK(msg.find("api.concurrency.adaptive") != std::string::npos);
}

TEST_CASE("deep merge: the datagen file wins key by key, model-only keys survive") {
  temp_dir d;
  write(d.path / "model.yaml",
        "api:\n"
        "  base_url: http://model-host:8000\n"
        "  timeout_s: 30\n"
        "  max_retries: 7\n"
        "  concurrency:\n"
        "    max_concurrent_requests: 4\n"
        "    semaphore_size: 3\n"
        "  fim:\n"
        "    mode: suffix\n"
        "models:\n"
        "  default: model-from-model-yaml\n"
        "namegen:\n"
        "  n: 5\n"
        "  temperature: 0.1\n");
  write(d.path / "datagen.yaml",
        "model_config: model.yaml\n"
        "api:\n"
        "  timeout_s: 12.5\n"
        "  concurrency:\n"
        "    semaphore_size: 2\n"
        "namegen:\n"
        "  temperature: 1.5\n");
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK(c.api.base_url == "http://model-host:8000/v1");   // model only
  CHECK(c.api.timeout_s == doctest::Approx(12.5));         // datagen wins
  CHECK(c.api.max_retries == 7);                           // model only
  CHECK(c.api.max_concurrent_requests == 4);               // model only, nested
  CHECK(c.api.semaphore_size == 2);                        // datagen wins, nested
  CHECK(c.api.fim.mode == fim_mode::suffix);
  CHECK(c.model == "model-from-model-yaml");
  CHECK(c.namegen.params.n == 5);
  CHECK(c.namegen.params.temperature == doctest::Approx(1.5));
}

TEST_CASE("an empty section in the datagen file does not erase the model's") {
  temp_dir d;
  write(d.path / "model.yaml", "api:\n  max_retries: 9\n");
  write(d.path / "datagen.yaml", "model_config: model.yaml\napi:\n");
  CHECK(load_datagen_config(d.file("datagen.yaml"), no_env).api.max_retries == 9);
}

TEST_CASE("model_config is found relative to the datagen file's folder first") {
  temp_dir d;
  write(d.path / "configs" / "model.yaml", "api:\n  max_retries: 1\n");
  write(d.path / "configs" / "datagen.yaml", "model_config: model.yaml\n");
  // A decoy in the current directory must not be taken.
  write(d.path / "model.yaml", "api:\n  max_retries: 2\n");
  cwd_guard here(d.path);
  CHECK(load_datagen_config("configs/datagen.yaml", no_env).api.max_retries == 1);
  CHECK(load_datagen_config(d.file("configs/datagen.yaml"), no_env).api.max_retries
        == 1);
}

TEST_CASE("model_config falls back to the current directory") {
  temp_dir d;
  write(d.path / "shared" / "model.yaml", "api:\n  max_retries: 5\n");
  write(d.path / "jobs" / "datagen.yaml", "model_config: shared/model.yaml\n");
  cwd_guard here(d.path);
  CHECK(load_datagen_config("jobs/datagen.yaml", no_env).api.max_retries == 5);
}

TEST_CASE("model_config chains are followed, the nearest file winning") {
  temp_dir d;
  write(d.path / "base.yaml", "api:\n  max_retries: 1\n  timeout_s: 9\n");
  write(d.path / "model.yaml", "model_config: base.yaml\napi:\n  max_retries: 2\n");
  write(d.path / "datagen.yaml", "model_config: model.yaml\n");
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK(c.api.max_retries == 2);
  CHECK(c.api.timeout_s == 9);
}

TEST_CASE("an error in a value that came from model.yaml names model.yaml") {
  temp_dir d;
  write(d.path / "model.yaml", "api:\n  max_retries: many\n");
  write(d.path / "datagen.yaml", "model_config: model.yaml\nnamegen:\n  n: 2\n");
  CHECK(error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); })
        == d.file("model.yaml")
             + ":2: key 'api.max_retries': expected an integer >= 0, got \"many\"");
}

TEST_CASE("base_url normalisation") {
  CHECK(normalize_base_url("http://h:8000", "x") == "http://h:8000/v1");
  CHECK(normalize_base_url("http://h:8000/", "x") == "http://h:8000/v1");
  CHECK(normalize_base_url("http://h/v1/", "x") == "http://h/v1");
  CHECK(normalize_base_url("http://h/v1", "x") == "http://h/v1");
  CHECK(normalize_base_url("https://h/v1//", "x") == "https://h/v1");
  CHECK(normalize_base_url("https://api.example.com/openai", "x")
        == "https://api.example.com/openai/v1");
  CHECK(normalize_base_url("http://127.0.0.1:30000/v1", "x")
        == "http://127.0.0.1:30000/v1");
  CHECK(normalize_base_url("http://v1", "x") == "http://v1/v1");
  CHECK(normalize_base_url("HTTP://H:1", "x") == "HTTP://H:1/v1");
  CHECK(normalize_base_url("embedded", "x") == "embedded");

  CHECK(error_of([] { normalize_base_url("ftp://h/v1", "--base-url"); })
        == "--base-url: expected an http:// or https:// URL or \"embedded\", got "
           "\"ftp://h/v1\"");
  CHECK(error_of([] { normalize_base_url("localhost:8000", "--base-url"); })
        == "--base-url: expected an http:// or https:// URL or \"embedded\", got "
           "\"localhost:8000\"");
  for (const char* bad : {"", "http://", "https:///v1", "http:// h/v1",
                          "http://h/v1?x=1", "Embedded", "h/v1"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { normalize_base_url(bad, "--base-url"); }).rfind("--base-url: ", 0)
          == 0);
  }
  // A password in a bad URL is not echoed.
  auto msg = error_of([] { normalize_base_url("ftp://user:hunter2@h/v1", "u"); });
  CHECK(msg.find("hunter2") == std::string::npos);
  CHECK(msg.find("ftp://***@h/v1") != std::string::npos);
}

TEST_CASE("api.base_url in a config is normalised") {
  temp_dir d;
  write(d.path / "datagen.yaml", "api:\n  base_url: \"http://gpu-box:8000/\"\n");
  CHECK(load_datagen_config(d.file("datagen.yaml"), no_env).api.base_url
        == "http://gpu-box:8000/v1");
}

TEST_CASE("the api key comes from the config, else from the named env var") {
  temp_dir d;
  SUBCASE("api_key empty: OPENAI_API_KEY through the injected lookup") {
    write(d.path / "datagen.yaml", "api:\n  api_key: \"\"\n");
    auto c = load_datagen_config(d.file("datagen.yaml"),
                                 fake_env({{"OPENAI_API_KEY", "sk-from-env"}}));
    CHECK(c.api.api_key == "sk-from-env");
  }
  SUBCASE("api_key_env names another variable") {
    write(d.path / "datagen.yaml", "api:\n  api_key_env: MY_SERVER_KEY\n");
    auto c = load_datagen_config(d.file("datagen.yaml"),
                                 fake_env({{"OPENAI_API_KEY", "wrong"},
                                           {"MY_SERVER_KEY", "sk-mine"}}));
    CHECK(c.api.api_key == "sk-mine");
    CHECK(c.api.api_key_env == "MY_SERVER_KEY");
  }
  SUBCASE("a key in the config wins over the environment") {
    write(d.path / "datagen.yaml", "api:\n  api_key: sk-in-file\n");
    auto c = load_datagen_config(d.file("datagen.yaml"),
                                 fake_env({{"OPENAI_API_KEY", "sk-from-env"}}));
    CHECK(c.api.api_key == "sk-in-file");
  }
  SUBCASE("no key anywhere: empty") {
    write(d.path / "datagen.yaml", "api:\n  timeout_s: 3\n");
    CHECK(load_datagen_config(d.file("datagen.yaml"), no_env).api.api_key.empty());
  }
}

TEST_CASE("the api key never appears in an error message") {
  temp_dir d;
  SUBCASE("a valid key next to a bad value") {
    write(d.path / "datagen.yaml",
          "api:\n  api_key: sk-SENTINEL-42\n  timeout_s: -1\n");
    auto msg = error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); });
    CHECK(msg == d.file("datagen.yaml")
                   + ":3: key 'api.timeout_s': expected a number > 0, got -1");
    CHECK(msg.find("SENTINEL") == std::string::npos);
  }
  SUBCASE("a key of the wrong type is described by its kind") {
    write(d.path / "datagen.yaml", "api:\n  api_key: 424242\n");
    auto msg = error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); });
    CHECK(msg == d.file("datagen.yaml")
                   + ":2: key 'api.api_key': expected a string, got an integer");
  }
  SUBCASE("a key from the environment next to a bad value") {
    write(d.path / "datagen.yaml", "namegen:\n  n: 0\n");
    auto msg = error_of([&] {
      load_datagen_config(d.file("datagen.yaml"),
                          fake_env({{"OPENAI_API_KEY", "sk-SENTINEL-env"}}));
    });
    CHECK(msg.find("SENTINEL") == std::string::npos);
    CHECK_FALSE(msg.empty());
  }
}

TEST_CASE("rate_limit_per_second: missing or null means no limit") {
  temp_dir d;
  write(d.path / "missing.yaml", "api:\n  concurrency:\n    burst: 2\n");
  write(d.path / "null.yaml", "api:\n  concurrency:\n    rate_limit_per_second: null\n");
  write(d.path / "set.yaml", "api:\n  concurrency:\n    rate_limit_per_second: 2.5\n");
  write(d.path / "int.yaml", "api:\n  concurrency:\n    rate_limit_per_second: 5\n");
  CHECK_FALSE(load_datagen_config(d.file("missing.yaml"), no_env)
                .api.rate_limit_per_second.has_value());
  CHECK_FALSE(load_datagen_config(d.file("null.yaml"), no_env)
                .api.rate_limit_per_second.has_value());
  CHECK(load_datagen_config(d.file("set.yaml"), no_env).api.rate_limit_per_second
        == 2.5);
  CHECK(load_datagen_config(d.file("int.yaml"), no_env).api.rate_limit_per_second
        == 5.0);
  CHECK(load_datagen_config(d.file("missing.yaml"), no_env).api.burst == 2);
}

TEST_CASE("api.http_client: auto, libcurl, native; missing means auto") {
  temp_dir d;
  write(d.path / "missing.yaml", "api:\n  timeout_s: 5\n");
  write(d.path / "auto.yaml", "api:\n  http_client: auto\n");
  write(d.path / "libcurl.yaml", "api:\n  http_client: libcurl\n");
  write(d.path / "native.yaml", "api:\n  http_client: native\n");
  write(d.path / "null.yaml", "api:\n  http_client:\n");
  write(d.path / "upper.yaml", "api:\n  http_client: Native\n");
  CHECK(load_datagen_config(d.file("missing.yaml"), no_env).api.http_client
        == http_client_kind::automatic);
  CHECK(load_datagen_config(d.file("auto.yaml"), no_env).api.http_client
        == http_client_kind::automatic);
  CHECK(load_datagen_config(d.file("libcurl.yaml"), no_env).api.http_client
        == http_client_kind::libcurl);
  CHECK(load_datagen_config(d.file("native.yaml"), no_env).api.http_client
        == http_client_kind::native);
  CHECK_THROWS_WITH_AS(
    load_datagen_config(d.file("null.yaml"), no_env),
    doctest::Contains("key 'api.http_client': expected one of auto, libcurl, "
                      "native, got null"),
    config_error);
  CHECK_THROWS_WITH_AS(load_datagen_config(d.file("upper.yaml"), no_env),
                       doctest::Contains("got \"Native\""), config_error);
}

TEST_CASE("api.extra_headers: names and values kept in order") {
  temp_dir d;
  write(d.path / "h.yaml",
        "api:\n  extra_headers:\n    X-Tenant: team-a\n    X-Sim-Fault: \"503\"\n");
  auto api = load_datagen_config(d.file("h.yaml"), no_env).api;
  REQUIRE(api.extra_headers.size() == 2);
  CHECK(api.extra_headers[0].first == "X-Tenant");
  CHECK(api.extra_headers[0].second == "team-a");
  CHECK(api.extra_headers[1].first == "X-Sim-Fault");
  CHECK(api.extra_headers[1].second == "503");
  write(d.path / "nl.yaml", "api:\n  extra_headers:\n    X-A: \"a\\r\\nB: c\"\n");
  CHECK_THROWS_WITH_AS(load_datagen_config(d.file("nl.yaml"), no_env),
                       doctest::Contains("a single-line string"), config_error);
}

TEST_CASE("a null rate limit in the datagen file lifts the model's limit") {
  temp_dir d;
  write(d.path / "model.yaml", "api:\n  concurrency:\n    rate_limit_per_second: 4\n");
  write(d.path / "datagen.yaml",
        "model_config: model.yaml\napi:\n  concurrency:\n    rate_limit_per_second: ~\n");
  CHECK_FALSE(load_datagen_config(d.file("datagen.yaml"), no_env)
                .api.rate_limit_per_second.has_value());
}

TEST_CASE("stop: an explicitly empty list sends none, missing gives the default") {
  temp_dir d;
  write(d.path / "empty.yaml", "namegen:\n  stop: []\n");
  write(d.path / "missing.yaml", "namegen:\n  n: 2\n");
  write(d.path / "single.yaml", "namegen:\n  stop: \"\\n\"\n");
  write(d.path / "list.yaml", "namegen:\n  stop:\n    - \"(\"\n    - \":\"\n");
  CHECK(load_datagen_config(d.file("empty.yaml"), no_env).namegen.params.stop.empty());
  CHECK(load_datagen_config(d.file("missing.yaml"), no_env).namegen.params.stop
        == std::vector<std::string>{"(", " ", "\n"});
  CHECK(load_datagen_config(d.file("single.yaml"), no_env).namegen.params.stop
        == std::vector<std::string>{"\n"});
  CHECK(load_datagen_config(d.file("list.yaml"), no_env).namegen.params.stop
        == std::vector<std::string>{"(", ":"});
}

TEST_CASE("an empty stop list in the datagen file overrides the model's list") {
  temp_dir d;
  write(d.path / "model.yaml", "namegen:\n  stop: [\"(\"]\n");
  write(d.path / "datagen.yaml", "model_config: model.yaml\nnamegen:\n  stop: []\n");
  CHECK(load_datagen_config(d.file("datagen.yaml"), no_env).namegen.params.stop.empty());
}

TEST_CASE("fim: use_chat_for_fim means mode chat") {
  temp_dir d;
  write(d.path / "a.yaml", "api:\n  fim:\n    use_chat_for_fim: true\n");
  write(d.path / "b.yaml", "api:\n  fim:\n    use_chat_for_fim: true\n    mode: chat\n");
  write(d.path / "c.yaml", "api:\n  fim:\n    mode: chat\n");
  write(d.path / "d.yaml",
        "api:\n  fim:\n    mode: suffix\n    use_chat_for_fim: false\n"
        "    tokens: {prefix: \"<PRE>\", suffix: \"<SUF>\", middle: \"<MID>\"}\n");
  for (const char* f : {"a.yaml", "b.yaml", "c.yaml"}) {
    CAPTURE(f);
    auto c = load_datagen_config(d.file(f), no_env);
    CHECK(c.api.fim.mode == fim_mode::chat);
    CHECK(c.api.fim.use_chat_for_fim);
  }
  auto c = load_datagen_config(d.file("d.yaml"), no_env);
  CHECK(c.api.fim.mode == fim_mode::suffix);
  CHECK_FALSE(c.api.fim.use_chat_for_fim);
  CHECK(c.api.fim.prefix_token == "<PRE>");
  CHECK(c.api.fim.suffix_token == "<SUF>");
  CHECK(c.api.fim.middle_token == "<MID>");
}

TEST_CASE("numbers: an integer is a number, a float is not an integer") {
  temp_dir d;
  write(d.path / "ok.yaml",
        "api:\n  timeout_s: 5\n  embedded:\n    fault_rate: 1\n"
        "    faults: [429, 500, 503, hang, reset, malformed, truncated]\n"
        "    seed: 17\n    vocabulary: 100\n    max_concurrency: 0\n"
        "namegen:\n  temperature: 0\n  top_p: 1\n  seed: -5\n");
  auto c = load_datagen_config(d.file("ok.yaml"), no_env);
  CHECK(c.api.timeout_s == 5);
  CHECK(c.api.embedded.fault_rate == 1);
  CHECK(c.api.embedded.faults.size() == 7);
  CHECK(c.api.embedded.faults.front() == "429");
  CHECK(c.api.embedded.seed == 17);
  CHECK(c.api.embedded.vocabulary == 100);
  CHECK(c.namegen.params.temperature == 0);
  CHECK(c.namegen.params.top_p == 1);
  CHECK(c.namegen.params.seed == -5);
}

TEST_CASE("api.embedded batch-model keys: read, and refused without batch_model") {
  temp_dir d;
  write(d.path / "ok.yaml",
        "api:\n  embedded:\n    batch_model: true\n    step_base_ms: 2\n"
        "    step_per_seq_ms: 0.5\n    kv_capacity: 8\n    overload_queue: 16\n"
        "    overload_status: 429\n    prefill_per_token_ms: 0.125\n");
  auto e = load_datagen_config(d.file("ok.yaml"), no_env).api.embedded;
  CHECK(e.batch_model);
  CHECK(e.step_base_ms == 2);
  CHECK(e.step_per_seq_ms == 0.5);
  CHECK(e.kv_capacity == 8);
  CHECK(e.overload_queue == 16);
  CHECK(e.overload_status == 429);
  CHECK(e.prefill_per_token_ms == 0.125);
  write(d.path / "bad.yaml", "api:\n  embedded:\n    prefill_per_token_ms: 1\n");
  auto lone = error_of([&] { load_datagen_config(d.file("bad.yaml"), no_env); });
  CHECK(lone.find("api.embedded.prefill_per_token_ms") != std::string::npos);
  CHECK(lone.find("batch_model: true") != std::string::npos);
  write(d.path / "bad.yaml", "api:\n  embedded:\n    kv_capacity: 8\n");
  auto msg = error_of([&] { load_datagen_config(d.file("bad.yaml"), no_env); });
  CHECK(msg.find("bad.yaml:3") != std::string::npos);
  CHECK(msg.find("api.embedded.kv_capacity") != std::string::npos);
  CHECK(msg.find("batch_model: true") != std::string::npos);
  write(d.path / "bad.yaml",
        "api:\n  embedded:\n    batch_model: true\n    overload_status: 500\n");
  msg = error_of([&] { load_datagen_config(d.file("bad.yaml"), no_env); });
  CHECK(msg.find("api.embedded.overload_status") != std::string::npos);
  CHECK(msg.find("503 or 429") != std::string::npos);
}

TEST_CASE("api.embedded.capacity_schedule: read, checked, and only with batch_model") {
  temp_dir d;
  write(d.path / "ok.yaml",
        "api:\n  embedded:\n    batch_model: true\n"
        "    capacity_schedule: \"0:64,30:16,60:64\"\n");
  CHECK(load_datagen_config(d.file("ok.yaml"), no_env).api.embedded.capacity_schedule
        == "0:64,30:16,60:64");
  // Each bad schedule names the file, the line, the key and the entry.
  for (auto [text, why] : std::vector<std::pair<std::string, std::string>>{
         {"\"0:64,0:16\"", "entry '0:16': times must increase"},
         {"\"0:0\"", "entry '0:0': '0' is not a capacity of at least 1 sequence"},
         {"\"soon:4\"", "entry 'soon:4': 'soon' is not a non-negative number of seconds"},
         {"[1, 2]", "expected a capacity schedule"}}) {
    CAPTURE(text);
    write(d.path / "bad.yaml",
          "api:\n  embedded:\n    batch_model: true\n    capacity_schedule: " + text + "\n");
    auto msg = error_of([&] { load_datagen_config(d.file("bad.yaml"), no_env); });
    CHECK(msg.rfind(d.file("bad.yaml") + ":4: key 'api.embedded.capacity_schedule': expected", 0) == 0);
    CHECK(msg.find(why) != std::string::npos);
  }
  write(d.path / "bad.yaml", "api:\n  embedded:\n    capacity_schedule: \"0:8\"\n");
  auto lone = error_of([&] { load_datagen_config(d.file("bad.yaml"), no_env); });
  CHECK(lone.find("api.embedded.capacity_schedule") != std::string::npos);
  CHECK(lone.find("batch_model: true") != std::string::npos);
}

TEST_CASE("a missing datagen file is reported with strerror") {
  temp_dir d;
  CHECK(error_of([&] { load_datagen_config(d.file("nope.yaml"), no_env); })
        == d.file("nope.yaml") + ": cannot read: No such file or directory");
  CHECK(error_of([&] { load_datagen_config(d.path.string(), no_env); })
        == d.path.string() + ": cannot read: Is a directory");
}

TEST_CASE("ca_file must exist when given") {
  temp_dir d;
  write(d.path / "ca.pem", "-----BEGIN CERTIFICATE-----\n");
  write(d.path / "datagen.yaml", "api:\n  ca_file: \"" + d.file("ca.pem") + "\"\n");
  CHECK(load_datagen_config(d.file("datagen.yaml"), no_env).api.ca_file
        == d.file("ca.pem"));
}

// The corpus: tests/config/corpus/<case>/ holds datagen.yaml (and whatever
// files it names) plus expected.txt, the exact error message. Each case is
// loaded as load_datagen_config("datagen.yaml") from inside its folder, so
// file names in the messages are "datagen.yaml", "model.yaml", ... as the
// loader composes them (see corpus/README.md).
TEST_CASE("every broken config of the corpus fails with its exact message") {
  const fs::path corpus = source("tests/config/corpus");
  auto cases = corpus_cases(corpus);
  CHECK(cases.size() >= 30);
  for (const auto& dir : cases) {
    const std::string name = dir.filename().string();
    CAPTURE(name);
    std::string expected = expected_message(dir);
    std::string got;
    {
      cwd_guard here(dir);
      got = error_of([] { load_datagen_config("datagen.yaml", no_env); });
    }
    CHECK(got == expected);
    CHECK(got.find("SENTINEL") == std::string::npos);
    CHECK(got.find('\n') == std::string::npos);
  }
}

TEST_CASE("number bounds: backoff_max_s, grace_s, latency_ms, per_token_ms") {
  temp_dir d;
  struct bad_case {
    std::string yaml, key, expected, got;
  };
  const bad_case cases[] = {
    {"api:\n  backoff_max_s: 0\n", "api.backoff_max_s",
     "a number > 0 and <= 86400", "0"},
    {"api:\n  backoff_max_s: -5\n", "api.backoff_max_s",
     "a number > 0 and <= 86400", "-5"},
    {"cluster:\n  grace_s: 0\n", "cluster.grace_s", "a number > 0", "0"},
    {"cluster:\n  grace_s: -1\n", "cluster.grace_s", "a number > 0", "-1"},
    {"api:\n  embedded:\n    latency_ms: -1\n", "api.embedded.latency_ms",
     "a number >= 0", "-1"},
    {"api:\n  embedded:\n    per_token_ms: -0.5\n",
     "api.embedded.per_token_ms", "a number >= 0", "-0.5"},
  };
  for (auto& c : cases) {
    CAPTURE(c.yaml);
    write(d.path / "datagen.yaml", c.yaml);
    auto msg = error_of([&] { load_datagen_config(d.file("datagen.yaml"), no_env); });
    auto line = std::count(c.yaml.begin(), c.yaml.end(), '\n');
    CHECK(msg == d.file("datagen.yaml") + ":" + std::to_string(line) + ": key '"
                   + c.key + "': expected " + c.expected + ", got " + c.got);
  }
  // The bounds themselves are accepted.
  write(d.path / "datagen.yaml",
        "api:\n  backoff_max_s: 0.001\n  embedded:\n    latency_ms: 0\n"
        "    per_token_ms: 0\ncluster:\n  grace_s: 0.5\n");
  auto c = load_datagen_config(d.file("datagen.yaml"), no_env);
  CHECK(c.api.backoff_max_s == doctest::Approx(0.001));
  CHECK(c.api.embedded.latency_ms == 0);
  CHECK(c.api.embedded.per_token_ms == 0);
  CHECK(c.cluster.grace_s == doctest::Approx(0.5));
}

TEST_CASE("config_error text reaches no terminal raw") {
  // C0 controls and DEL as \xHH (\n, \t spelled so), C1 controls (the 8-bit
  // CSI) as \u00HH, an invalid UTF-8 byte as U+FFFD; valid UTF-8 stays.
  const evo::config_error e("a\n\tb\x1b[2J\x7f \xc2\x9b" "c \xff caf\xc3\xa9");
  CHECK(std::string(e.what())
        == "a\\n\\tb\\x1b[2J\\x7f \\u009bc \xEF\xBF\xBD caf\xc3\xa9");
}

TEST_CASE("dedupe.near: off unless given, {} takes the defaults, names only warn") {
  temp_dir d;
  write(d.path / "off.yaml", "namegen:\n  extract: text\n");
  write(d.path / "defaults.yaml", "namegen:\n  extract: text\ndedupe:\n  near: {}\n");
  write(d.path / "set.yaml",
        "namegen:\n  extract: text\ndedupe:\n  near:\n    threshold: 0.9\n"
        "    shingle: 3\n");
  write(d.path / "names.yaml", "dedupe:\n  near: {threshold: 0.85}\n");
  CHECK_FALSE(load_datagen_config(d.file("off.yaml"), no_env).near_dedupe.enabled);
  auto def = load_datagen_config(d.file("defaults.yaml"), no_env).near_dedupe;
  CHECK(def.enabled);
  CHECK(def.threshold == 0.8);
  CHECK(def.shingle == 5);
  auto set = load_datagen_config(d.file("set.yaml"), no_env).near_dedupe;
  CHECK(set.enabled);
  CHECK(set.threshold == 0.9);
  CHECK(set.shingle == 3);
  config_notes notes;
  auto names = load_datagen_config(d.file("names.yaml"), no_env, &notes);
  CHECK(names.namegen.extract == extract_kind::name);
  CHECK(std::any_of(notes.warnings.begin(), notes.warnings.end(), [](auto& w) {
    return w.find("dedupe.near applies to free-text records") != std::string::npos;
  }));
}
