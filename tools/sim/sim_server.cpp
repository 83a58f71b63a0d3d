// The simulator's HTTP server. This is the only translation unit of the
// library that includes cpp-httplib.
#include "tools/sim/sim_server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "tools/sim/batch_model.hpp"
#include "tools/sim/dynamic_pool.hpp"
#include "tools/sim/name_gen.hpp"
#include "tools/sim/request_parse.hpp"

namespace evo::sim {

using json = nlohmann::json;
using detail::approx_tokens;
using detail::bad_request;
using detail::choice_out;
using detail::gen_request;
using detail::parse_chat;
using detail::parse_completions;
using detail::finish_choice;
using detail::rng;

const std::vector<std::string>& all_fault_kinds() {
  static const std::vector<std::string> k{"429", "500", "503", "hang", "reset", "malformed", "truncated"};
  return k;
}

namespace {

// Dump that never throws on invalid UTF-8 (e.g. in an echoed message).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

enum class fault_kind { none, r429, r500, r503, hang, reset, malformed, truncated };

const char* fault_name(fault_kind f) {
  switch (f) {
    case fault_kind::none: return "none";
    case fault_kind::r429: return "429";
    case fault_kind::r500: return "500";
    case fault_kind::r503: return "503";
    case fault_kind::hang: return "hang";
    case fault_kind::reset: return "reset";
    case fault_kind::malformed: return "malformed";
    case fault_kind::truncated: return "truncated";
  }
  return "none";
}

std::optional<fault_kind> parse_fault(const std::string& s) {
  if (s == "429") return fault_kind::r429;
  if (s == "500") return fault_kind::r500;
  if (s == "503") return fault_kind::r503;
  if (s == "hang") return fault_kind::hang;
  if (s == "reset") return fault_kind::reset;
  if (s == "malformed") return fault_kind::malformed;
  if (s == "truncated") return fault_kind::truncated;
  if (s == "none" || s.empty()) return fault_kind::none;
  return std::nullopt;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json error_body(const std::string& message, const char* type, int code, const std::string& param = {}) {
  json e = {{"message", message}, {"type", type}, {"code", code}};
  e["param"] = param.empty() ? json(nullptr) : json(param);
  return json{{"error", std::move(e)}};
}

// httplib's listen backlog is compiled into Debian's libcpp-httplib (5): far
// too small for 64 clients connecting at once. svr_sock_ is protected, so a
// subclass can re-listen() with a larger backlog after binding.
class sim_http_server : public httplib::Server {
 public:
  void enlarge_backlog(int n) {
    socket_t s = svr_sock_;
    if (s != INVALID_SOCKET) ::listen(s, n);
  }
};

// Sockaddr port, or -1.
int sockaddr_port(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return -1;
}

// cpp-httplib does not hand the connection's socket to handlers. For the rare
// faults that need it (reset, hang) and for stop(), find connected sockets
// whose local port is ours (and whose peer port is peer_port, if >= 0) by
// scanning /proc/self/fd.
std::vector<int> find_connections(int local_port, int peer_port) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return out;
  const int dfd = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    if (fd == dfd) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    if (sockaddr_port(ss) != local_port) continue;
    len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;  // listening socket
    if (peer_port >= 0 && sockaddr_port(ss) != peer_port) continue;
    out.push_back(fd);
  }
  ::closedir(d);
  return out;
}

enum class endpoint { completions, chat, models, health, other };

std::string hex_id(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

struct sim_server::impl {
  sim_options opts;
  detail::name_generator names;
  std::vector<fault_kind> fault_set;

  std::unique_ptr<sim_http_server> svr;
  std::thread listen_thread;
  std::atomic<int> bound_port{0};
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::mutex lifecycle_mu;
  int stop_efd = -1;  // eventfd: readable once stop() began; wakes hung requests

  std::atomic<uint64_t> request_counter{0};
  std::atomic<int> in_handler{0};  // requests being handled (logged as "active" without the batch model)
  batch_params batch;              // with opts.batch_model
  std::unique_ptr<batch_engine> engine;
  std::atomic<uint64_t> fault_counter{0};

  // max_concurrency gate
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  int active = 0;

  // latency sleeps, interruptible by stop()
  std::mutex sleep_mu;
  std::condition_variable sleep_cv;

  // rate limit: token bucket of capacity max(1, rate), refilled at rate/s
  std::mutex rl_mu;
  double rl_tokens = 0;
  std::chrono::steady_clock::time_point rl_last;

  std::mutex log_mu;
  std::FILE* log = nullptr;

  explicit impl(sim_options o) : opts(std::move(o)), names(opts.vocabulary) {
    if (opts.faults.empty()) {
      fault_set = {fault_kind::r429, fault_kind::r500, fault_kind::r503, fault_kind::hang,
                   fault_kind::reset, fault_kind::malformed, fault_kind::truncated};
    } else {
      for (const auto& f : opts.faults) {
        auto k = parse_fault(f);
        if (!k || *k == fault_kind::none) throw std::invalid_argument("unknown fault kind: '" + f + "'");
        fault_set.push_back(*k);
      }
    }
    rl_tokens = std::max(1.0, opts.rate_limit);
    if (opts.batch_model) {
      if (opts.overload_status != 503 && opts.overload_status != 429)
        throw std::invalid_argument("overload status must be 503 or 429, got " + std::to_string(opts.overload_status));
      if (opts.kv_capacity < 1) throw std::invalid_argument("kv capacity must be at least 1");
      batch = batch_params{opts.step_base_ms, opts.step_per_seq_ms, opts.prefill_per_token_ms,
                           opts.kv_capacity,  opts.overload_queue, {},
                           opts.schedule_from_load};
      std::string err;
      if (!opts.capacity_schedule.empty() && !parse_capacity_schedule(opts.capacity_schedule, batch.schedule, &err))
        throw std::invalid_argument("capacity schedule '" + opts.capacity_schedule + "': " + err);
    }
    rl_last = std::chrono::steady_clock::now();
  }

  // ---- per-request context -------------------------------------------------
  struct ctx {
    const char* endpoint = "";
    int64_t t_us = 0, start_us = 0, end_us = 0;
    int status = 0;
    fault_kind fault = fault_kind::none;
    const char* fault_label = nullptr;  // overrides fault name (e.g. "rate_limit")
    int n = 0;
    int64_t completion_tokens = 0;
    int peer_port = 0;  // tells the connections apart
    int64_t prompt_tokens = 0;
    int active = 0;     // at arrival: engine sequences (batch model) or requests in handlers
    int queued = 0;     // at arrival: requests waiting in the batch engine's queue
  };

  void write_log(const ctx& c) {
    if (!log) return;
    char buf[1024];
    int len = std::snprintf(
        buf, sizeof buf,
        "{\"t_us\":%lld,\"start_us\":%lld,\"end_us\":%lld,\"endpoint\":\"%s\",\"status\":%d,\"fault\":\"%s\","
        "\"n\":%d,\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"active\":%d,\"queued\":%d,"
        "\"peer_port\":%d}\n",
        static_cast<long long>(c.t_us), static_cast<long long>(c.start_us ? c.start_us : c.t_us),
        static_cast<long long>(c.end_us ? c.end_us : now_us()), c.endpoint, c.status,
        c.fault_label ? c.fault_label : fault_name(c.fault), c.n, static_cast<long long>(c.prompt_tokens),
        static_cast<long long>(c.completion_tokens), c.active, c.queued, c.peer_port);
    if (len <= 0) return;
    std::lock_guard<std::mutex> lk(log_mu);
    if (!log) return;
    std::fwrite(buf, 1, size_t(std::min<int>(len, int(sizeof buf) - 1)), log);
    std::fflush(log);
  }

  void send_error(httplib::Response& res, ctx& c, int status, const std::string& msg, const char* type,
                  const std::string& param = {}) {
    res.status = status;
    res.set_content(dump(error_body(msg, type, status, param)), "application/json");
    c.status = status;
  }

  // ---- load shaping ----------------------------------------------------------
  // Returns 0 when admitted, else the Retry-After seconds.
  int rate_check() {
    if (opts.rate_limit <= 0) return 0;
    std::lock_guard<std::mutex> lk(rl_mu);
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - rl_last).count();
    rl_last = now;
    const double cap = std::max(1.0, opts.rate_limit);
    rl_tokens = std::min(cap, rl_tokens + dt * opts.rate_limit);
    if (rl_tokens >= 1.0) {
      rl_tokens -= 1.0;
      return 0;
    }
    return std::max(1, int(std::ceil((1.0 - rl_tokens) / opts.rate_limit)));
  }

  bool gate_acquire() {
    if (opts.max_concurrency <= 0) return !stopping;
    std::unique_lock<std::mutex> lk(gate_mu);
    gate_cv.wait(lk, [&] { return stopping || active < opts.max_concurrency; });
    if (stopping) return false;
    ++active;
    return true;
  }
  void gate_release() {
    if (opts.max_concurrency <= 0) return;
    {
      std::lock_guard<std::mutex> lk(gate_mu);
      --active;
    }
    gate_cv.notify_one();
  }

  // Sleep, unless stop() comes first. Returns false if stopping.
  bool sleep_ms(double ms) {
    if (ms <= 0) return !stopping;
    std::unique_lock<std::mutex> lk(sleep_mu);
    return !sleep_cv.wait_for(lk, std::chrono::duration<double, std::milli>(ms), [&] { return stopping.load(); });
  }

  // ---- connection-level faults ----------------------------------------------
  int connection_fd(const httplib::Request& req) {
    auto fds = find_connections(bound_port, req.remote_port);
    return fds.empty() ? -1 : fds.front();
  }

  void do_reset(const httplib::Request& req, httplib::Response& res) {
    int fd = connection_fd(req);
    if (fd >= 0) {
      linger lg{1, 0};  // close() will send RST
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      ::shutdown(fd, SHUT_RDWR);
    }
    res.status = 500;  // never reaches the client: the write fails
    res.set_header("Connection", "close");
  }

  // Hold the request until the client hangs up or stop() is called.
  void do_hang(const httplib::Request& req, httplib::Response& res) {
    int fd = connection_fd(req);
    pollfd p[2] = {{stop_efd, POLLIN, 0}, {fd, POLLRDHUP, 0}};
    const int nfds = fd >= 0 ? 2 : 1;
    // Bounded: without the socket (should not happen) give up after 10 min.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (!stopping && std::chrono::steady_clock::now() < deadline) {
      int r = ::poll(p, nfds, 1000);
      if (r < 0 && errno != EINTR) break;
      if (r > 0 && (p[0].revents & POLLIN)) break;
      if (r > 0 && nfds == 2 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) break;
    }
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    res.status = 503;
    res.set_header("Connection", "close");
  }

  // ---- handlers --------------------------------------------------------------
  void handle(endpoint ep, const httplib::Request& req, httplib::Response& res) {
    ctx c;
    c.t_us = now_us();
    c.peer_port = req.remote_port;
    c.active = in_handler.fetch_add(1);
    c.endpoint = ep == endpoint::completions ? "/v1/completions"
                 : ep == endpoint::chat      ? "/v1/chat/completions"
                 : ep == endpoint::models    ? "/v1/models"
                                             : "/health";
    handle_inner(ep, req, res, c);
    in_handler.fetch_sub(1);
    if (!c.end_us) c.end_us = now_us();
    write_log(c);
  }

  void handle_inner(endpoint ep, const httplib::Request& req, httplib::Response& res, ctx& c) {
    const bool generative = ep == endpoint::completions || ep == endpoint::chat;
    if (!opts.require_key.empty() && ep != endpoint::health &&
        req.get_header_value("Authorization") != "Bearer " + opts.require_key) {
      send_error(res, c, 401, "Incorrect API key provided.", "invalid_request_error");
      return;
    }
    // 1. forced fault
    if (req.has_header("X-Sim-Fault")) {
      auto k = parse_fault(req.get_header_value("X-Sim-Fault"));
      if (!k) {
        send_error(res, c, 400, "unknown X-Sim-Fault kind '" + req.get_header_value("X-Sim-Fault") + "'",
                   "invalid_request_error");
        return;
      }
      c.fault = *k;
    } else if (generative) {
      // 2. rate limit
      if (int retry = rate_check()) {
        res.set_header("Retry-After", std::to_string(retry));
        c.fault_label = "rate_limit";
        send_error(res, c, 429, "Rate limit exceeded: " + std::to_string(opts.rate_limit) + " requests per second",
                   "rate_limit_error");
        return;
      }
      // 3. random fault
      if (opts.fault_rate > 0) {
        rng fr(detail::mix64(opts.seed ^ 0xfa017fa017ULL) + fault_counter.fetch_add(1) * 0x9e3779b97f4a7c15ULL);
        if (fr.uniform() < opts.fault_rate) c.fault = fault_set[fr.below(fault_set.size())];
      }
    }
    switch (c.fault) {
      case fault_kind::r429:
        res.set_header("Retry-After", "1");
        send_error(res, c, 429, "Rate limit exceeded (injected fault)", "rate_limit_error");
        return;
      case fault_kind::reset:
        do_reset(req, res);
        c.status = 0;
        return;
      case fault_kind::hang:
        do_hang(req, res);
        c.status = 0;
        return;
      default: break;
    }

    if (ep == endpoint::health || ep == endpoint::models) {
      json body;
      if (ep == endpoint::health) {
        body = {{"status", "ok"}};
        if (engine) {  // the batch model's state, as a server's metrics would show it
          body["active_sequences"] = engine->active_sequences();
          body["queued_requests"] = engine->queued_requests();
        }
      } else {
        body = {{"object", "list"},
                {"data", json::array({{{"id", opts.model},
                                       {"object", "model"},
                                       {"created", int64_t(std::time(nullptr))},
                                       {"owned_by", "evoselfcode-sim"},
                                       {"root", opts.model},
                                       {"max_model_len", 32768}}})}};
      }
      c.start_us = now_us();
      finish_with_faults(res, c, dump(body), "");
      return;
    }

    // 4. parse and validate
    gen_request g;
    json body;
    bool valid = true;
    std::string err_msg, err_param;
    try {
      body = json::parse(req.body);
      g = ep == endpoint::completions ? parse_completions(body) : parse_chat(body);
    } catch (const json::parse_error& e) {
      valid = false;
      err_msg = std::string("invalid JSON body: ") + e.what();
    } catch (const bad_request& e) {
      valid = false;
      err_msg = e.what();
      err_param = e.param;
    } catch (const json::exception& e) {
      valid = false;
      err_msg = std::string("invalid request: ") + e.what();
    }
    if (!valid && (c.fault == fault_kind::none)) {
      send_error(res, c, 400, err_msg, "invalid_request_error", err_param);
      return;
    }
    if (valid && opts.strict_model && g.model != opts.model) {
      // vLLM's answer, top-level fields and all.
      res.status = 404;
      res.set_content(dump(json{{"object", "error"},
                                {"message", "The model `" + g.model + "` does not exist."},
                                {"type", "NotFoundError"},
                                {"param", nullptr},
                                {"code", 404}}),
                      "application/json");
      c.status = 404;
      return;
    }
    if (valid && opts.no_suffix && ep == endpoint::completions && body.contains("suffix")) {
      send_error(res, c, 400, "suffix is not currently supported", "BadRequestError");
      return;
    }
    c.n = valid ? g.n : 0;
    c.prompt_tokens = valid ? approx_tokens(g.prompt_chars) : 0;
    if (valid && opts.max_n > 0 && g.n > opts.max_n && c.fault == fault_kind::none) {
      // llama.cpp's schema check, byte for byte: its error body has no "param".
      res.status = 400;
      res.set_content("{\"error\":{\"code\":400,\"message\":\"Field 'n': Value must be between 1 <= value <= " +
                          std::to_string(opts.max_n) + ", but got " + std::to_string(g.n) +
                          "\",\"type\":\"invalid_request_error\"}}",
                      "application/json");
      c.status = 400;
      return;
    }

    // 5. generate
    uint64_t seed;
    if (valid && g.seed) {
      seed = detail::hash_bytes(body.dump(), detail::mix64(opts.seed) ^ uint64_t(ep));
    } else {
      uint64_t k = request_counter.fetch_add(1);
      seed = detail::mix64(detail::mix64(opts.seed) + k * 0x9e3779b97f4a7c15ULL + uint64_t(ep));
    }
    rng r(seed);
    std::vector<choice_out> choices;
    if (valid) {
      detail::sample_params sp{g.temperature, g.top_p, g.prompt_hash};
      const int count = opts.cap_n > 0 ? std::min(g.n, opts.cap_n) : g.n;
      choices.reserve(size_t(count));
      for (int i = 0; i < count; ++i) {
        std::string text = opts.text_variants > 0 ? names.text_variant(r, uint64_t(opts.text_variants))
                           : g.fim                ? names.fim_text(r, sp)
                                                  : names.l2r_text(r, sp);
        choices.push_back(finish_choice(std::move(text), g));
        c.completion_tokens += choices.back().tokens;
      }
    }

    // 6. latency under the concurrency gate
    double latency = opts.latency_ms + (opts.jitter_ms > 0 ? r.uniform() * opts.jitter_ms : 0.0) +
                     opts.per_token_ms * double(c.completion_tokens);
    if (!gate_acquire()) {
      send_error(res, c, 503, "server is shutting down", "service_unavailable");
      return;
    }
    c.start_us = now_us();
    bool ok = sleep_ms(latency);
    if (ok && engine && valid) {
      int64_t longest = 0;  // the choices decode side by side
      for (const auto& ch : choices) longest = std::max(longest, ch.tokens);
      batch_engine::arrival at;
      auto o = engine->run(g.n, longest, c.prompt_tokens, at);
      c.active = at.active;
      c.queued = at.queued;
      if (o == batch_engine::outcome::overloaded) {
        gate_release();
        res.set_header("Retry-After", "1");
        c.fault_label = "overload";
        send_error(res, c, opts.overload_status,
                   "Server overloaded: " + std::to_string(at.queued) + " requests queued",
                   opts.overload_status == 429 ? "rate_limit_error" : "service_unavailable");
        return;
      }
      ok = o == batch_engine::outcome::done;
    }
    gate_release();
    if (!ok) {
      send_error(res, c, 503, "server is shutting down", "service_unavailable");
      return;
    }

    // 7. respond
    const std::string model = (valid && !g.model.empty()) ? g.model : opts.model;
    const std::string id = (g.chat ? "chatcmpl-" : "cmpl-") + hex_id(r.next());
    const int64_t created = int64_t(std::time(nullptr));
    if (valid && g.stream && c.fault == fault_kind::none) {
      respond_stream(res, c, g, choices, id, model, created);
      return;
    }
    std::string out;
    if (valid) {
      json resp = {{"id", id},
                   {"object", g.chat ? "chat.completion" : "text_completion"},
                   {"created", created},
                   {"model", model}};
      json arr = json::array();
      for (size_t i = 0; i < choices.size(); ++i) {
        json ch = {{"index", i}};
        if (g.chat)
          ch["message"] = {{"role", "assistant"}, {"content", choices[i].text}};
        else
          ch["text"] = choices[i].text;
        ch["logprobs"] = nullptr;
        ch["finish_reason"] = choices[i].finish;
        arr.push_back(std::move(ch));
      }
      resp["choices"] = std::move(arr);
      const int64_t pt = approx_tokens(g.prompt_chars);
      resp["usage"] = {{"prompt_tokens", pt},
                       {"completion_tokens", c.completion_tokens},
                       {"total_tokens", pt + c.completion_tokens}};
      out = dump(resp);
    } else {
      out = json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                 {"choices", json::array({{{"index", 0}, {"text", "merge_sorted_lists"},
                                           {"logprobs", nullptr}, {"finish_reason", "stop"}}})}}
                .dump();
    }
    finish_with_faults(res, c, std::move(out), "");
  }

  // Send `body` (a complete 200 JSON answer) or the fault that replaces it.
  void finish_with_faults(httplib::Response& res, ctx& c, std::string body, const char*) {
    switch (c.fault) {
      case fault_kind::r500:
        send_error(res, c, 500, "Internal server error (injected fault)", "server_error");
        return;
      case fault_kind::r503:
        send_error(res, c, 503, "Service unavailable (injected fault)", "service_unavailable");
        return;
      case fault_kind::malformed:
        res.status = 200;
        res.set_content("{\"id\": \"cmpl-malformed\", \"object\": \"text_completion\", \"choices\": [{\"index\": 0, "
                        "\"text\": \"merge_sorted_lists\",, \"finish_reason\": }",
                        "application/json");
        c.status = 200;
        return;
      case fault_kind::truncated:
        // A valid answer cut in the middle; Content-Length matches what is
        // sent, so the client reads a complete HTTP message whose JSON is cut.
        body.resize(std::max<size_t>(1, body.size() / 2));
        res.status = 200;
        res.set_content(std::move(body), "application/json");
        c.status = 200;
        return;
      default:
        res.status = 200;
        res.set_content(std::move(body), "application/json");
        c.status = 200;
    }
  }

  void respond_stream(httplib::Response& res, ctx& c, const gen_request& g, const std::vector<choice_out>& choices,
                      const std::string& id, const std::string& model, int64_t created) {
    auto events = std::make_shared<std::string>();
    const char* object = g.chat ? "chat.completion.chunk" : "text_completion";
    auto emit = [&](size_t index, const std::string* piece, bool first, const char* finish) {
      json ch = {{"index", index}};
      if (g.chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (piece) delta["content"] = *piece;
        ch["delta"] = std::move(delta);
      } else {
        ch["text"] = piece ? *piece : std::string();
      }
      ch["logprobs"] = nullptr;
      ch["finish_reason"] = finish ? json(finish) : json(nullptr);
      json chunk = {{"id", id}, {"object", object}, {"created", created}, {"model", model},
                    {"choices", json::array({std::move(ch)})}};
      events->append("data: ").append(dump(chunk)).append("\n\n");
    };
    for (size_t i = 0; i < choices.size(); ++i) {
      const std::string& t = choices[i].text;
      bool first = true;
      for (size_t pos = 0; pos < t.size(); pos += 4) {
        std::string piece = t.substr(pos, 4);
        emit(i, &piece, first, nullptr);
        first = false;
      }
      if (g.chat && first) {
        std::string empty;
        emit(i, &empty, true, nullptr);
      }
      emit(i, nullptr, false, choices[i].finish);
    }
    events->append("data: [DONE]\n\n");
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [events](size_t, httplib::DataSink& sink) {
      bool ok = sink.write(events->data(), events->size());
      if (ok) sink.done();
      return ok;
    });
    c.status = 200;
  }

  void handle_unknown(const httplib::Request& req, httplib::Response& res) {
    ctx c;
    c.t_us = now_us();
    // The log line names the requested path (JSON-escaped, bounded).
    std::string path = dump(json(req.path.substr(0, 200)));
    path = path.substr(1, path.size() - 2);
    c.endpoint = path.c_str();
    send_error(res, c, 404, "Not found: " + req.method + " " + req.path, "not_found_error");
    c.end_us = now_us();
    write_log(c);
  }
};

sim_server::sim_server(sim_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

sim_server::~sim_server() { stop(); }

int sim_server::port() const { return impl_->bound_port; }

const sim_options& sim_server::options() const { return impl_->opts; }

int sim_server::start() {
  impl& m = *impl_;
  std::lock_guard<std::mutex> lk(m.lifecycle_mu);
  if (m.started) throw std::runtime_error("sim_server: already started");

  // cpp-httplib sends without MSG_NOSIGNAL: a client that hangs up would
  // raise SIGPIPE. Ignore it unless the host program installed a handler.
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);

  if (!m.opts.log_requests.empty()) {
    m.log = std::fopen(m.opts.log_requests.c_str(), "a");
    if (!m.log) throw std::runtime_error("sim_server: cannot open log file '" + m.opts.log_requests + "': " +
                                         std::strerror(errno));
  }
  m.stop_efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.stop_efd < 0) throw std::runtime_error("sim_server: eventfd failed");

  if (m.opts.batch_model) m.engine = std::make_unique<batch_engine>(m.batch);  // its clock starts now
  m.svr = std::make_unique<sim_http_server>();
  auto& svr = *m.svr;
  // cpp-httplib's ThreadPool runs one job per accepted connection, and the
  // job serves that connection until it idles past the keep-alive timeout or
  // reaches the request limit; later connections queue FIFO, unread.
  // Without --http-threads every connection must be served at once: 256
  // threads cover the project's runs; the batch model is swept to 512 in flight.
  const size_t threads = m.opts.http_threads > 0 ? size_t(m.opts.http_threads) : m.opts.batch_model ? 1024 : 256;
  const size_t dynamic = m.opts.http_threads > 0 ? size_t(std::max(0, m.opts.http_dynamic_threads)) : 0;
  if (dynamic > 0)
    svr.new_task_queue = [threads, dynamic] { return new dynamic_pool(threads, dynamic); };
  else
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  const int max_requests = m.opts.keepalive_max_requests > 0 ? m.opts.keepalive_max_requests
                           : m.opts.http_threads > 0         ? 100
                                                             : 1000000000;
  svr.set_keep_alive_max_count(size_t(max_requests));
  svr.set_keep_alive_timeout(m.opts.keepalive_timeout_s);
  svr.set_tcp_nodelay(true);
  svr.set_read_timeout(5);
  svr.set_write_timeout(5);
  svr.set_payload_max_length(16 * 1024 * 1024);

  impl* p = &m;
  svr.Post("/v1/completions",
           [p](const httplib::Request& rq, httplib::Response& rs) { p->handle(endpoint::completions, rq, rs); });
  svr.Post("/v1/chat/completions",
           [p](const httplib::Request& rq, httplib::Response& rs) { p->handle(endpoint::chat, rq, rs); });
  svr.Get("/v1/models", [p](const httplib::Request& rq, httplib::Response& rs) { p->handle(endpoint::models, rq, rs); });
  svr.Get("/health", [p](const httplib::Request& rq, httplib::Response& rs) { p->handle(endpoint::health, rq, rs); });
  // Anything else: 404 with an OpenAI error body.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([p](const httplib::Request& rq, httplib::Response& rs) {
    if (!rs.body.empty() || rs.has_header("Connection")) return httplib::Server::HandlerResponse::Unhandled;
    if (rs.status == 404) {
      p->handle_unknown(rq, rs);
    } else {
      rs.set_content(dump(error_body("HTTP error " + std::to_string(rs.status), "invalid_request_error", rs.status)),
                     "application/json");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& rs, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    rs.status = 500;
    rs.set_content(dump(error_body(what, "server_error", 500)), "application/json");
  });

  // httplib's default socket options include SO_REUSEPORT, which would let a
  // second server silently share a taken port: keep only SO_REUSEADDR.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  int port;
  if (m.opts.port == 0) {
    port = svr.bind_to_any_port(m.opts.host);
    if (port <= 0) throw std::runtime_error("sim_server: cannot bind " + m.opts.host + " (any port)");
  } else {
    if (!svr.bind_to_port(m.opts.host, m.opts.port))
      throw std::runtime_error("sim_server: cannot bind " + m.opts.host + ":" + std::to_string(m.opts.port));
    port = m.opts.port;
  }
  svr.enlarge_backlog(1024);
  m.bound_port = port;
  m.started = true;
  m.listen_thread = std::thread([p] { p->svr->listen_after_bind(); });
  // Server::stop() is a no-op until the listen loop has set is_running(); a
  // stop() right after start() would then leave the loop blocked in accept().
  // The socket already accepts connections (the kernel queues them), so this
  // wait only orders start() before any stop().
  for (int i = 0; i < 5000 && !svr.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!svr.is_running()) {
    svr.stop();
    m.listen_thread.join();  // listen_after_bind() returned without serving
    m.started = false;
    throw std::runtime_error("sim_server: the listen loop did not start");
  }
  if (!m.opts.quiet) std::fprintf(stderr, "evoselfcode-sim: serving on %s:%d\n", m.opts.host.c_str(), port);
  return port;
}

void sim_server::stop() {
  impl& m = *impl_;
  std::lock_guard<std::mutex> lk(m.lifecycle_mu);
  if (!m.started || m.stopping.exchange(true)) return;
  // Wake everything that waits: hung requests (eventfd), queued and sleeping
  // requests (condition variables).
  uint64_t one = 1;
  if (::write(m.stop_efd, &one, sizeof one) < 0) { /* nothing else to do */ }
  { std::lock_guard<std::mutex> g(m.gate_mu); }
  m.gate_cv.notify_all();
  { std::lock_guard<std::mutex> g(m.sleep_mu); }
  m.sleep_cv.notify_all();
  if (m.engine) m.engine->stop();
  m.svr->stop();
  // Idle keep-alive connections would hold their server thread for up to the
  // keep-alive timeout; shut them down so the pool joins promptly.
  for (int fd : find_connections(m.bound_port, -1)) ::shutdown(fd, SHUT_RDWR);
  if (m.listen_thread.joinable()) m.listen_thread.join();
  m.svr.reset();
  ::close(m.stop_efd);
  m.stop_efd = -1;
  std::lock_guard<std::mutex> g(m.log_mu);
  if (m.log) {
    std::fclose(m.log);
    m.log = nullptr;
  }
}

}  // namespace evo::sim
