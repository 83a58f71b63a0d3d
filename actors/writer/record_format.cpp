#include "actors/writer/record_format.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "actors/writer/json_write.hpp"

namespace evo {

namespace {

// The fields after the record's own: mode .. timestamp.
void append_origin(std::string& out, const record_origin& o,
                   uint32_t choice_index, std::string_view raw) {
  out += ",\"mode\":";
  append_json_string(out, o.mode);
  out += ",\"raw_text\":";
  append_json_string(out, raw);
  out += ",\"model\":";
  append_json_string(out, o.model);
  out += ",\"request_index\":";
  out += std::to_string(o.request_index);
  out += ",\"choice_index\":";
  out += std::to_string(choice_index);
  out += ",\"timestamp\":";
  append_json_string(out, o.timestamp);
  out += "}\n";
}

// {"uid":"<uid>","<field>":<value>: the start of every record.
void append_head(std::string& out, std::string_view uid, const char* field,
                 std::string_view value) {
  out += record_uid_prefix;
  out += uid;
  out += "\",\"";
  out += field;
  out += "\":";
  append_json_string(out, value);
}

} // namespace

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              now.time_since_epoch())
              .count()
            % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string record_source(std::string_view mode) {
  std::string out{mode};
  for (auto& c : out)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return out;
}

void append_name_record(std::string& out, const record_origin& o,
                        uint32_t choice_index, std::string_view uid,
                        std::string_view name, std::string_view raw) {
  append_head(out, uid, "func_name", name);
  append_origin(out, o, choice_index, raw);
}

void append_text_record(std::string& out, const record_origin& o,
                        uint32_t choice_index, std::string_view uid,
                        std::string_view text, std::string_view raw) {
  append_head(out, uid, "problem_description", text);
  out += ",\"source\":";
  append_json_string(out, record_source(o.mode));
  append_origin(out, o, choice_index, raw);
}

void append_failure_line(std::string& out, std::string_view mode,
                         const failure_record& rec,
                         std::string_view timestamp) {
  out += "{\"mode\":";
  append_json_string(out, mode);
  out += ",\"request_index\":" + std::to_string(rec.index);
  out += ",\"attempts\":" + std::to_string(rec.attempts);
  out += ",\"http_status\":" + std::to_string(rec.http_status);
  out += ",\"failure\":";
  append_json_string(out, to_string(rec.failure));
  out += ",\"reason\":";
  append_json_string(out, rec.reason);
  out += ",\"timestamp\":";
  append_json_string(out, timestamp);
  out += "}\n";
}

} // namespace evo
