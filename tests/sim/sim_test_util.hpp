// Helpers shared by the simulator tests.
#pragma once

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tools/sim/sim_server.hpp"

namespace simtest {

using json = nlohmann::json;

// An in-process simulator on a free port, stopped at scope exit.
struct sim {
  std::unique_ptr<evo::sim::sim_server> server;
  int port = 0;
  explicit sim(evo::sim::sim_options o = {}) {
    o.port = 0;
    server = std::make_unique<evo::sim::sim_server>(std::move(o));
    port = server->start();
  }
  std::unique_ptr<httplib::Client> client(int read_timeout_ms = 10000) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_read_timeout(read_timeout_ms / 1000, (read_timeout_ms % 1000) * 1000);
    c->set_connection_timeout(5, 0);
    return c;
  }
  httplib::Result post(const std::string& path, const json& body, const httplib::Headers& h = {}) const {
    return client()->Post(path.c_str(), h, body.dump(), "application/json");
  }
  httplib::Result post_raw(const std::string& path, const std::string& body) const {
    return client()->Post(path.c_str(), body, "application/json");
  }
  json completions(const json& body) const {
    auto r = post("/v1/completions", body);
    if (!r) throw std::runtime_error("no response: " + httplib::to_string(r.error()));
    if (r->status != 200) throw std::runtime_error("status " + std::to_string(r->status) + ": " + r->body);
    return json::parse(r->body);
  }
  json chat(const json& body) const {
    auto r = post("/v1/chat/completions", body);
    if (!r) throw std::runtime_error("no response: " + httplib::to_string(r.error()));
    if (r->status != 200) throw std::runtime_error("status " + std::to_string(r->status) + ": " + r->body);
    return json::parse(r->body);
  }
  bool healthy() const {
    auto r = client()->Get("/health");
    return r && r->status == 200;
  }
};

inline std::vector<std::string> texts(const json& resp) {
  std::vector<std::string> out;
  for (const auto& c : resp.at("choices")) {
    if (c.contains("text"))
      out.push_back(c.at("text").get<std::string>());
    else
      out.push_back(c.at("message").at("content").get<std::string>());
  }
  return out;
}

inline bool is_snake_name(const std::string& s) {
  static const std::regex re("^[a-z_][a-z0-9_]*$");
  return std::regex_match(s, re);
}

inline bool is_error_shape(const std::string& body) {
  try {
    auto j = json::parse(body);
    const auto& e = j.at("error");
    return e.at("message").is_string() && !e.at("message").get<std::string>().empty() && e.at("type").is_string() &&
           e.contains("param") && e.contains("code");
  } catch (...) {
    return false;
  }
}

inline std::vector<json> read_log(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace simtest
