#include "app/generate_names.hpp"
#include "actors/request/server_text.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "actors/coordinator/progress.hpp"
#include "app/client.hpp"
#include "app/config/config_loader.hpp"
#include "app/fim_probe.hpp"
#include "app/run_report.hpp"
#include "app/stop_signals.hpp"
#include "actors/request/openai_protocol.hpp"
#include "actors/request/url.hpp"

namespace evo {

namespace {

// --concurrency sets both knobs; otherwise each comes from the config.
std::string pool_source_of_semaphore(const std::string& pool_source) {
  return pool_source == "--concurrency" ? pool_source
                                        : "api.concurrency.semaphore_size";
}

/// The config file: --config, else (the Python tool's latest layout)
/// configs/datagen/<mode>.yaml when it exists, else configs/datagen.yaml.
std::string config_path_of(const generate_options& o, config_notes& notes) {
  if (o.config_given || o.mode == "both")
    return o.config_path;
  const std::string per_mode = "configs/datagen/" + o.mode + ".yaml";
  std::error_code ec;
  if (std::filesystem::exists(per_mode, ec)) {
    notes.info.push_back("config " + per_mode + " (no --config: the file of --mode "
                         + o.mode + ")");
    return per_mode;
  }
  return o.config_path;
}

datagen_config load_with_overrides(const generate_options& o,
                                   config_notes& notes) {
  // Command-line values first: a bad one is reported before any file is read.
  if (o.num_batches && o.num_samples)
    throw config_error("--num-batches and --num-samples: expected one of the "
                       "two, got both");
  if (o.concurrency) {
    auto problem = pool_size_problem(*o.concurrency);
    if (!problem.empty())
      throw config_error("--concurrency: " + problem);
  }
  if (o.rate_limit) {
    auto problem = rate_limit_problem(*o.rate_limit);
    if (!problem.empty())
      throw config_error("--rate-limit: " + problem);
  }
  std::string base_url;
  if (o.base_url)
    base_url = normalize_base_url(*o.base_url, "--base-url");
  auto cfg = load_datagen_config(config_path_of(o, notes), {}, &notes);
  if (o.base_url)
    cfg.api.base_url = base_url;
  if (o.out_dir)
    cfg.out_names_dir = *o.out_dir;
  if (o.num_batches) {
    cfg.namegen.num_batches = *o.num_batches;
    cfg.namegen.num_samples = 0;
  }
  if (o.num_samples)
    cfg.namegen.num_samples = static_cast<uint64_t>(*o.num_samples);
  if (o.n)
    cfg.namegen.params.n = *o.n;
  if (cfg.namegen.num_samples > 0) {
    const auto n = static_cast<uint64_t>(cfg.namegen.params.n);
    cfg.namegen.num_batches =
      static_cast<int>((cfg.namegen.num_samples + n - 1) / n);
  }
  if (o.concurrency) {
    cfg.api.max_concurrent_requests = *o.concurrency;
    cfg.api.semaphore_size = *o.concurrency;
  }
  if (o.rate_limit)
    cfg.api.rate_limit_per_second = *o.rate_limit;
  o.cluster.apply(cfg.cluster);
  if (o.mode != "l2r")
    require_fim_support(cfg, cfg.model, "--mode " + o.mode);
  return cfg;
}

} // namespace

std::string describe_pool(const datagen_config& cfg,
                          const std::string& pool_source) {
  auto& api = cfg.api;
  auto semaphore = api.semaphore_size
                     ? "semaphore_size " + std::to_string(*api.semaphore_size)
                         + " (" + pool_source_of_semaphore(pool_source) + ")"
                     : std::string{"no semaphore_size"};
  auto adaptive = api.adaptive
                    ? "; adaptive (api.concurrency.adaptive): from "
                        + std::to_string(api.concurrency_min)
                        + " (api.concurrency.min), following the server's "
                          "throughput up to that"
                    : std::string{};
  if (cfg.cluster.workers.empty())
    return "server " + url::redact(cfg.api.base_url) + ", in flight at most "
           + std::to_string(api.max_in_flight()) + ": pool "
           + std::to_string(api.max_concurrent_requests) + " (" + pool_source
           + "), " + semaphore + adaptive;
  auto lent = std::to_string(cfg.cluster.workers.size()) + " worker node(s)"
              + (cfg.cluster.local_pool > 0
                   ? " + local pool " + std::to_string(cfg.cluster.local_pool)
                       + " on " + url::redact(cfg.api.base_url)
                   : std::string{});
  return lent + ", in flight at most "
         + (api.semaphore_size ? std::to_string(*api.semaphore_size) + ": "
                                   + semaphore + " over the request actors "
                                   "lent"
                               : std::string{"the request actors lent ("}
                                   + semaphore + ")")
         + adaptive;
}

int generate_names(const generate_options& o) {
  if (o.mode != "fim" && o.mode != "l2r" && o.mode != "both") {
    std::fprintf(stderr, "error: --mode: expected fim, l2r or both, got \"%s\"\n",
                 escape_controls(o.mode).c_str());
    return 2;
  }
  datagen_config cfg;
  config_notes notes;
  try {
    cfg = load_with_overrides(o, notes);
  } catch (const config_error& e) {
    std::fprintf(stderr, "error: %s\n", escape_controls(e.what()).c_str());
    return 2;
  }
  set_log_level(o.quiet, o.verbose);
  log_config_notes(notes, o.quiet, o.verbose);

  if (cfg.api.fim.probe && o.mode != "l2r")
    resolve_fim_mode(cfg.api, cfg.model);

  auto& ng = cfg.namegen;
  std::vector<job_spec> jobs;
  std::vector<job_output> outputs;
  auto add_job = [&](job_mode mode, request_spec spec) {
    auto name = std::string{to_string(mode)};
    outputs.push_back({static_cast<uint32_t>(jobs.size()), name,
                       cfg.out_names_dir + "/" + name, name, cfg.name_regex,
                       ng.weaklist, ng.extract == extract_kind::text,
                       cfg.min_chars, cfg.max_chars, cfg.dedupe_canonical,
                       cfg.exclude_names,
                       cfg.near_dedupe.enabled ? cfg.near_dedupe.threshold : 0.0,
                       cfg.near_dedupe.shingle});
    jobs.push_back(make_job(name, name, spec.endpoint, std::move(spec.body),
                            static_cast<uint64_t>(ng.num_batches)));
    jobs.back().stop_when = ng.stop_when;
  };
  if (o.mode != "l2r")
    add_job(job_mode::fim,
            build_fim_request(cfg.api.fim, cfg.model, cfg.prompts.fim_prefix,
                              cfg.prompts.fim_suffix, ng.params));
  if (o.mode != "fim")
    add_job(job_mode::l2r,
            build_l2r_request(cfg.model, cfg.prompts.l2r_prompt, ng.params));

  // generate-names keeps no journal: a rerun dedupes names but sends its
  // requests again.
  auto hint = std::string{"the same command (names already kept are not "
                          "written twice); `datagen run --resume` continues "
                          "exactly"};
  try {
    spdlog::info("generate-names: mode {}, {} request(s) x n={} per mode, "
                 "{}, rate limit {}",
                 o.mode, ng.num_batches, ng.params.n,
                 describe_pool(cfg,
                               o.concurrency
                                 ? "--concurrency"
                                 : "api.concurrency.max_concurrent_requests"),
                 cfg.api.rate_limit_per_second
                   ? std::to_string(*cfg.api.rate_limit_per_second) + "/s"
                   : std::string{"none"});
    client c{cfg.api, cfg.model, cfg.cluster};
    stop_signal_scope signals{c};
    auto plan = c.make_plan(std::move(jobs));
    configure_progress(plan, o.quiet);
    plan.stop_grace = std::chrono::milliseconds(
      static_cast<int64_t>(o.stop_grace_s * 1000.0));
    auto summary = c.run(std::move(plan), outputs);
    // With both modes on the same prompt, FIM and L2R are an A/B pair.
    std::vector<ab_pair> pairs;
    if (o.mode == "both" && cfg.prompts.fim_prefix == cfg.prompts.l2r_prompt)
      pairs.push_back({0, 1});
    return finish_run(summary, pairs, cfg.out_names_dir, hint);
  } catch (const run_error& e) {
    if (!e.summary) {
      spdlog::error("{}", escape_controls(e.what()).c_str());
      return 1;
    }
    return finish_run(*e.summary, {}, cfg.out_names_dir, hint);
  } catch (const config_error& e) { // the token budget's check
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", escape_controls(e.what()).c_str());
    return 1;
  }
}

} // namespace evo
