#include "messages/work.hpp"
#include "messages/settings.hpp"

namespace evo {

const char* to_string(job_mode m) {
  return m == job_mode::fim ? "fim" : "l2r";
}

const char* endpoint_path(endpoint_kind e) {
  return e == endpoint_kind::chat_completions ? "/chat/completions"
                                              : "/completions";
}

const char* to_string(failure_kind k) {
  switch (k) {
    case failure_kind::none: return "none";
    case failure_kind::http_status: return "http_status";
    case failure_kind::timeout: return "timeout";
    case failure_kind::connect: return "connect";
    case failure_kind::transport: return "transport";
    case failure_kind::bad_body: return "bad_body";
    case failure_kind::response_too_large: return "response_too_large";
    case failure_kind::interrupted: return "interrupted";
    case failure_kind::certificate: return "certificate";
  }
  return "unknown";
}

const char* to_string(fim_mode m) {
  switch (m) {
    case fim_mode::special_tokens: return "special_tokens";
    case fim_mode::suffix: return "suffix";
    case fim_mode::chat: return "chat";
  }
  return "unknown";
}

} // namespace evo
