#include "app/run_manifest.hpp"
#include "actors/request/server_text.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "actors/coordinator/progress.hpp"
#include "app/client.hpp"
#include "app/config/manifest_loader.hpp"
#include "app/fim_probe.hpp"
#include "app/run_report.hpp"
#include "app/stop_signals.hpp"
#include "actors/request/openai_protocol.hpp"
#include "actors/writer/output_folder.hpp"
#include "actors/writer/run_journal.hpp"

namespace evo {

namespace {

job_spec to_job_spec(const manifest_job& j) {
  auto req = j.mode == job_mode::fim
               ? build_fim_request(j.fim, j.model, j.prefix, j.suffix, j.params)
               : build_l2r_request(j.model, j.prompt, j.params);
  auto spec = make_job(j.name, to_string(j.mode), req.endpoint,
                       std::move(req.body), j.num_batches);
  spec.target_unique = j.target_unique;
  spec.max_requests = j.max_requests;
  spec.stop_when = j.stop_when;
  return spec;
}

// FIM and L2R jobs asking the same thing of the model the same way.
std::vector<ab_pair> find_ab_pairs(const std::vector<manifest_job>& jobs) {
  std::vector<ab_pair> pairs;
  std::vector<bool> used(jobs.size(), false);
  for (size_t f = 0; f < jobs.size(); ++f) {
    if (jobs[f].mode != job_mode::fim)
      continue;
    for (size_t l = 0; l < jobs.size(); ++l) {
      auto& a = jobs[f];
      auto& b = jobs[l];
      if (used[l] || b.mode != job_mode::l2r || a.prefix != b.prompt
          || a.params.temperature != b.params.temperature
          || a.params.top_p != b.params.top_p || a.params.n != b.params.n
          || a.model != b.model)
        continue;
      used[l] = true;
      pairs.push_back({f, l});
      break;
    }
  }
  return pairs;
}

} // namespace

int run_manifest(const manifest_options& o) {
  manifest m;
  config_notes notes;
  try {
    m = load_manifest(o.manifest_path, {}, &notes);
    if (o.base_url)
      m.base.api.base_url = normalize_base_url(*o.base_url, "--base-url");
    o.cluster.apply(m.base.cluster);
  } catch (const config_error& e) {
    std::fprintf(stderr, "error: %s\n", escape_controls(e.what()).c_str());
    return 2;
  }
  set_log_level(o.quiet, o.verbose);
  log_config_notes(notes, o.quiet, o.verbose);
  auto out = o.out_dir.value_or(m.base.out_names_dir);

  std::vector<std::string> names;
  for (auto& j : m.jobs)
    names.push_back(j.name);
  run_options ropts;
  ropts.global_dedupe = m.dedupe == dedupe_scope::global;
  try {
    std::filesystem::create_directories(out);
    ropts.journal = std::make_shared<run_journal>(out + "/journal.jsonl",
                                                  names, o.resume);
  } catch (const journal_conflict& e) {
    // An existing run in the folder without --resume, or a journal of
    // other jobs: a usage problem, nothing was written.
    std::fprintf(stderr, "error: %s\n", escape_controls(e.what()).c_str());
    return 2;
  } catch (const output_error& e) {
    // The journal cannot be written (a symbolic link, I/O).
    std::fprintf(stderr, "error: %s\n", escape_controls(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: cannot create output folder %s: %s\n",
                 out.c_str(), escape_controls(e.what()).c_str());
    return 1;
  }

  std::vector<job_spec> jobs;
  std::vector<job_output> outputs;
  std::optional<fim_mode> probed; // api.fim.mode: auto, asked once
  for (auto& j : m.jobs) {
    if (j.mode == job_mode::fim && j.fim.probe) {
      if (!probed) {
        auto api = m.base.api;
        resolve_fim_mode(api, j.model);
        probed = api.fim.mode;
      }
      j.fim.mode = *probed;
    }
    outputs.push_back({static_cast<uint32_t>(jobs.size()), j.name,
                       out + "/" + j.name, to_string(j.mode), j.name_regex,
                       j.weaklist, false, 0, 0, m.base.dedupe_canonical,
                       m.base.exclude_names});
    jobs.push_back(to_job_spec(j));
  }
  auto hint = "evoselfcode datagen run --manifest " + o.manifest_path
              + (o.out_dir ? " --out " + *o.out_dir : std::string{})
              + (o.base_url ? " --base-url <the same URL>" : std::string{})
              + " --resume";
  try {
    spdlog::info("run {}: {} job(s), {}, rate limit {}, dedupe {}",
                 o.manifest_path, jobs.size(), describe_pool(m.base),
                 m.base.api.rate_limit_per_second
                   ? std::to_string(*m.base.api.rate_limit_per_second) + "/s"
                   : std::string{"none"},
                 ropts.global_dedupe ? "global" : "per job");
    client c{m.base.api, m.base.model, m.base.cluster};
    stop_signal_scope signals{c};
    auto plan = c.make_plan(std::move(jobs));
    configure_progress(plan, o.quiet);
    plan.stop_grace = std::chrono::milliseconds(
      static_cast<int64_t>(o.stop_grace_s * 1000.0));
    auto summary = c.run(std::move(plan), outputs, ropts);
    auto pairs = find_ab_pairs(m.jobs);
    return finish_run(summary, pairs, out, hint);
  } catch (const run_error& e) {
    if (!e.summary) {
      spdlog::error("{}", escape_controls(e.what()).c_str());
      return 1;
    }
    return finish_run(*e.summary, {}, out, hint);
  } catch (const config_error& e) { // the token budget's check
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", escape_controls(e.what()).c_str());
    return 1;
  }
}

} // namespace evo
