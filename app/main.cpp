// evoselfcode: the command line. Subcommands map to functions in app/.
#include <CLI/CLI.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/generate_names.hpp"
#include "app/log_format.hpp"
#include "app/run_manifest.hpp"
#include "app/stop_signals.hpp"
#include "app/worker.hpp"

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries the summary table only.
  auto logger = spdlog::stderr_color_mt("evoselfcode");
  logger->set_formatter(
    evo::safe_log_formatter("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v"));
  spdlog::set_default_logger(logger);

  CLI::App app{"evoselfcode: training data for code LLMs from an "
               "OpenAI-compatible server"};
  app.require_subcommand(1);
  auto* datagen = app.add_subcommand("datagen", "data generation");
  datagen->require_subcommand(1);

  evo::generate_options gen;
  auto* names = datagen->add_subcommand(
    "generate-names", "sample function names in FIM and/or L2R mode");
  names->add_option("--config", gen.config_path,
                    "datagen config (YAML); without it, --mode fim|l2r reads "
                    "configs/datagen/<mode>.yaml when it exists")
    ->capture_default_str();
  names->add_option("--mode", gen.mode, "fim | l2r | both")
    ->capture_default_str();
  names->add_option("--out", gen.out_dir,
                    "output folder (default: io.out_names_dir)");
  names->add_option("--base-url", gen.base_url,
                    "server URL (\"/v1\" appended when missing) or embedded");
  names->add_option("--num-batches", gen.num_batches,
                    "requests per mode (overrides namegen.num_batches)")
    ->check(CLI::PositiveNumber);
  names->add_option("--num-samples", gen.num_samples,
                    "choices per mode; requests = ceil(N / n) (overrides "
                    "namegen.num_samples and num_batches)")
    ->check(CLI::PositiveNumber);
  names->add_option("-n,--n", gen.n, "choices per request (namegen.n)")
    ->check(CLI::PositiveNumber);
  names->add_option("--concurrency", gen.concurrency,
                    "request actors and in-flight cap")
    ->check(CLI::PositiveNumber);
  // Checked with the config's rate_limit_per_second (nan, inf, -0 refused).
  names->add_option("--rate-limit", gen.rate_limit,
                    "requests per second (rate_limit_per_second)");
  names->add_flag("-q,--quiet", gen.quiet, "warnings and errors only");
  names->add_flag("-v,--verbose", gen.verbose, "debug logging");

  evo::manifest_options man;
  auto* run = datagen->add_subcommand(
    "run", "run the jobs of a manifest over one pool and one rate limit");
  run->add_option("--manifest", man.manifest_path, "job manifest (YAML)")
    ->required();
  run->add_option("--out", man.out_dir,
                  "output folder (default: io.out_names_dir of the base config)");
  run->add_option("--base-url", man.base_url,
                  "server URL (\"/v1\" appended when missing) or embedded");
  run->add_flag("--resume", man.resume,
                "continue a killed run from <out>/journal.jsonl");
  run->add_flag("-q,--quiet", man.quiet, "warnings and errors only");
  run->add_flag("-v,--verbose", man.verbose, "debug logging");

  for (auto* sub : {names, run}) {
    sub->add_option("--stop-grace-s",
                    sub == names ? gen.stop_grace_s : man.stop_grace_s,
                    "after SIGINT/SIGTERM: seconds requests in flight may "
                    "still finish (a second signal stops at once)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
    auto* target = sub == names ? &gen.cluster : &man.cluster;
    sub->add_option("--workers", target->workers,
                    "worker nodes host:port,... (overrides cluster.workers)")
      ->delimiter(',');
    sub->add_option("--local-pool", target->local_pool,
                    "request actors on this node too when --workers is given")
      ->check(CLI::NonNegativeNumber);
    sub->add_option("--name", target->head_name,
                    "this head's name in the workers' logs (default host:pid)");
  }

  evo::worker_options wk;
  auto* worker = app.add_subcommand(
    "worker", "lend a pool of request actors to a head (distributed runs)");
  worker->add_option("--listen", wk.listen, "host:port to listen on (port 0: any)")
    ->capture_default_str();
  worker->add_option("--config", wk.config_path,
                     "datagen config (api settings, model)")
    ->capture_default_str();
  worker->add_option("--base-url", wk.base_url, "this node's model server");
  worker->add_option("--pool", wk.pool, "request actors on this node")
    ->check(CLI::PositiveNumber);
  worker->add_option("--tls-cert", wk.tls_cert, "certificate (PEM), for TLS");
  worker->add_option("--tls-key", wk.tls_key, "private key (PEM), for TLS");
  worker->add_option("--tls-ca", wk.tls_ca, "CA of the peers (PEM), for TLS");
  worker->add_option("--max-n", wk.max_n,
                     "largest n a head may ask for (default: namegen.n)")
    ->check(CLI::PositiveNumber);
  worker->add_option("--max-tokens", wk.max_tokens,
                     "largest max_tokens a head may ask for (default: "
                     "namegen.max_new_tokens)")
    ->check(CLI::PositiveNumber);
  worker->add_flag("--insecure", wk.insecure,
                   "allow a non-loopback --listen without TLS");
  worker->add_option("--protocol-version", wk.protocol_version,
                     "pretend another protocol version (tests only)")
    ->group("");
  worker->add_flag("-v,--verbose", wk.verbose, "debug logging");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  // A run stops cleanly on the first SIGINT/SIGTERM (before any thread
  // starts: every thread inherits the blocked signals).
  if (names->parsed() || run->parsed())
    evo::install_stop_signals();
  if (names->parsed()) {
    gen.config_given = names->count("--config") > 0;
    return evo::generate_names(gen);
  }
  if (run->parsed())
    return evo::run_manifest(man);
  if (worker->parsed())
    return evo::run_worker(wk);
  return 2;
}
