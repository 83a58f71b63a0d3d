// The loaded configuration: plain structs filled by app/config_loader from
// configs/model.yaml + configs/datagen.yaml (keys of the Python tool).
// No CAF, no YAML here: everything downstream depends only on these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace evo {

/// How a FIM request is put on the wire.
enum class fim_mode : uint8_t {
  special_tokens, ///< one prompt <|fim_prefix|>P<|fim_suffix|>S<|fim_middle|> on /completions
  suffix,         ///< prompt + "suffix" field on /completions (OpenAI style)
  chat,           ///< /chat/completions with extra body fields prefix_key/suffix_key
};

const char* to_string(fim_mode m);

/// Defaults of the simulator that `api.base_url: embedded` starts in-process
/// (section `api.embedded:`).
struct embedded_sim_config {
  double latency_ms = 0;
  double jitter_ms = 0;
  double per_token_ms = 0;
  int max_concurrency = 0;          ///< 0 = unlimited
  double rate_limit = 0;            ///< requests/s before 429; 0 = off
  double fault_rate = 0;            ///< probability of a fault per request
  std::vector<std::string> faults;  ///< subset of 429,500,503,hang,reset,malformed,truncated
  uint64_t seed = 0;
  int vocabulary = 0;               ///< 0 = the simulator's default word lists
  /// The continuous-batching server model (tools/sim/README.md, "Batch
  /// model"); the step and capacity keys need batch_model.
  bool batch_model = false;
  double step_base_ms = 10;
  double step_per_seq_ms = 0.25;
  double prefill_per_token_ms = 0;  ///< per prompt token, on admission
  int kv_capacity = 64;
  int overload_queue = 0;           ///< 0 = the queue is unbounded
  int overload_status = 503;        ///< 503 or 429
  /// "0:64,30:16,60:64": KV capacity by seconds since start; empty =
  /// kv_capacity throughout (checked by tools/sim/capacity_schedule.hpp).
  std::string capacity_schedule;
};

struct fim_config {
  fim_mode mode = fim_mode::special_tokens;
  bool use_chat_for_fim = false; ///< Python key; true forces mode = chat
  /// api.fim.mode: auto: the mode is picked by asking the server at the
  /// start (app/fim_probe.hpp); `mode` holds the pick once made.
  bool probe = false;
  std::string prefix_key = "prefix";
  std::string suffix_key = "suffix";
  std::string prefix_token = "<|fim_prefix|>";
  std::string suffix_token = "<|fim_suffix|>";
  std::string middle_token = "<|fim_middle|>";
};

/// Which HTTP client carries the requests. automatic: the engine's own
/// HTTP/1.1 client for plain http:// to an IP address or localhost with no
/// proxy configured (a fifth of libcurl's CPU per request), libcurl for
/// everything else (https, proxies, host names).
enum class http_client_kind : uint8_t { automatic, libcurl, native };

struct api_config {
  /// Normalised: ends with "/v1" (appended when missing), no trailing '/'.
  /// The literal "embedded" means: start the simulator in-process.
  std::string base_url = "embedded";
  /// Secret: never log, print or write it. Filled from api.api_key, else from
  /// the environment variable named by api_key_env.
  std::string api_key;
  std::string api_key_env = "OPENAI_API_KEY";
  double timeout_s = 60;
  int max_retries = 3;
  double backoff_base_s = 1;  ///< first retry after this; doubles each time
  double backoff_max_s = 60;  ///< cap of one backoff
  int max_concurrent_requests = 10;
  std::optional<double> rate_limit_per_second; ///< nullopt = no limit
  double burst = 1;                              ///< token bucket capacity
  /// Model tokens (prompt + completion) in any 60 s window; 0 = no budget.
  uint64_t tokens_per_minute = 0;
  /// "<file>:<line>: key 'api.concurrency.tokens_per_minute'" for messages.
  std::string tokens_per_minute_where;
  /// A second in-flight cap under the pool; nullopt = no extra cap.
  std::optional<int> semaphore_size;
  /// api.concurrency.adaptive: the in-flight limit follows the server's
  /// throughput between concurrency_min and max_in_flight().
  bool adaptive = false;
  int concurrency_min = 1; ///< api.concurrency.min: the adaptive floor
  /// I/O threads of the HTTP engine (each handles any number of transfers
  /// and tops out near one core). 0 = chosen from the client in use: one
  /// for the own HTTP/1.1 client, two for libcurl (see io_threads_for).
  int io_threads = 0;
  http_client_kind http_client = http_client_kind::automatic;
  /// TLS: verify by default; a CA bundle may be given; turning verification
  /// off needs insecure_skip_verify and is logged loudly.
  std::string ca_file;
  bool insecure_skip_verify = false;
  /// Sent with every request (gateways, tenancy). Values may be secrets:
  /// never logged.
  std::vector<std::pair<std::string, std::string>> extra_headers;
  /// Largest response body accepted (api.max_response_bytes); a larger one
  /// fails the attempt for good (failure_kind::response_too_large).
  uint64_t max_response_bytes = 8u << 20;
  fim_config fim;
  embedded_sim_config embedded;

  bool is_embedded() const { return base_url == "embedded"; }
  /// Effective number of requests in flight: min(pool, semaphore when
  /// set).
  int max_in_flight() const {
    return semaphore_size && *semaphore_size < max_concurrent_requests
             ? *semaphore_size
             : max_concurrent_requests;
  }
};

/// Sampling parameters of every request of a job.
struct sampling_params {
  double temperature = 0.8;
  double top_p = 0.95;
  int max_tokens = 16;            ///< namegen.max_new_tokens
  int n = 1;                      ///< choices per request
  std::vector<std::string> stop;  ///< empty = none sent
  std::optional<int64_t> seed;
  /// A JSON object whose keys are added to every request body (e.g.
  /// {"logprobs": 1, "repetition_penalty": 1.1}; namegen.extra_body); empty
  /// = none. A key the request already sets (model, prompt, n, ...) is
  /// refused.
  std::string extra_body;
};

/// What a record keeps of a completion (namegen.extract).
enum class extract_kind : uint8_t {
  name, ///< a function name: up to the first '(', space or newline
  text, ///< the whole stripped completion (free-text generation)
};

/// stop_when: a job stops issuing requests once fewer than new_rate_below
/// of its last `window` valid choices were new names (saturation).
struct stop_rule {
  double new_rate_below = 0; ///< in (0, 1); 0 = no rule
  uint32_t window = 0;       ///< 1 .. 10^7 valid choices
  bool enabled() const { return window > 0 && new_rate_below > 0; }
};

struct namegen_config {
  extract_kind extract = extract_kind::name;
  sampling_params params;
  int num_batches = 1;                ///< requests per mode
  /// namegen.num_samples (total choices wanted; 0 = not given): when set,
  /// num_batches = ceil(num_samples / n), recomputed after a CLI -n.
  uint64_t num_samples = 0;
  std::vector<std::string> weaklist;  ///< names refused, case-insensitive
  stop_rule stop_when;                ///< namegen.stop_when
};

/// dedupe.near: a free-text record whose estimated Jaccard similarity
/// (MinHash over `shingle`-word shingles) with a record kept earlier is at
/// least `threshold` is dropped as a near duplicate.
struct near_dedupe_config {
  bool enabled = false;
  double threshold = 0.8;
  uint32_t shingle = 5;
};

struct prompts_config {
  std::string fim_prefix = "This is an algorithm function.\n\ndef ";
  std::string fim_suffix = "():\n";
  std::string l2r_prompt = "This is an algorithm function.\n\ndef ";
};

/// Mutually authenticated TLS between head and workers (CAF's openssl
/// module): all three files, or none.
struct cluster_tls_config {
  std::string certificate; ///< this node's certificate (PEM)
  std::string key;         ///< its private key (PEM)
  std::string ca;          ///< CA that signed the peers' certificates (PEM)
  bool enabled() const { return !certificate.empty(); }
};

/// Section `cluster:`: worker nodes that lend their request actors.
struct cluster_config {
  std::vector<std::string> workers; ///< "host:port" of each worker
  int local_pool = 0;  ///< request actors on the head too (with workers)
  double grace_s = 30; ///< wait this long for a worker when none is left
  cluster_tls_config tls;
  /// Shared secret a head proves to its workers (cluster.token, or the
  /// environment variable named by cluster.token_env). Never logged.
  std::string token;
  std::string token_env;
  double heartbeat_s = 5;   ///< head -> worker liveness check interval
  double dead_after_s = 15; ///< no answer for this long: the peer is dead
  std::string head_name;    ///< --name of a head (default host:pid)
};

/// One entry of the `models:` catalogue (models.<alias>, the Python tool's
/// layout).
struct model_entry {
  std::string alias;
  std::string name;             ///< the model name sent to the server
  int max_tokens = 0;           ///< caps max_new_tokens; 0 = no cap
  bool supports_fim = true;     ///< false: a FIM job with it is refused
  bool supports_logprobs = true;
  std::string where;            ///< "<file>:<line>" of the entry, for messages
};

struct datagen_config {
  std::string source_file;  ///< the datagen yaml, for messages
  api_config api;
  std::string model = "Qwen2.5-Coder-32B";  ///< models.default
  namegen_config namegen;
  prompts_config prompts;
  std::string name_regex = "^[a-z_][a-z0-9_]*$";  ///< filters.name_regex
  /// filters.min_chars / max_chars: bounds of a free-text record (extract:
  /// text); 0 = no bound.
  uint64_t min_chars = 0;
  uint64_t max_chars = 0;
  /// filters.exclude_names: the names of that file (one a line).
  std::vector<std::string> exclude_names;
  std::string exclude_names_file; ///< as resolved, for messages
  bool dedupe_canonical = false;  ///< dedupe.canonical
  std::string out_names_dir = "data/generated/names"; ///< io.out_names_dir
  near_dedupe_config near_dedupe; ///< dedupe.near (free-text records only)
  cluster_config cluster;
  std::vector<model_entry> models;  ///< the models: catalogue, file order
};

} // namespace evo
