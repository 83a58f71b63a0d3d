// The lines the writer appends: a name record, a free-text record and a
// failure line, each one JSON object and a newline. "uid" comes first in
// records so that a reopened folder finds it without a JSON parser. No CAF,
// no I/O.
//
//   {"uid":..,"func_name":..,"mode":..,"raw_text":..,"model":..,
//    "request_index":..,"choice_index":..,"timestamp":..}
//   {"uid":..,"problem_description":..,"source":"FIM"|"L2R","mode":..,
//    "raw_text":..,"model":..,"request_index":..,"choice_index":..,
//    "timestamp":..}
//   {"mode":..,"request_index":..,"attempts":..,"http_status":..,
//    "failure":..,"reason":..,"timestamp":..}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "messages/work.hpp"

namespace evo {

/// The opening of every record line, up to the uid's 16 hex digits.
constexpr std::string_view record_uid_prefix = "{\"uid\":\"";

/// Current UTC time as 2026-11-26T12:00:00.123Z.
std::string utc_timestamp();

/// The Python tool's "source" of a free-text record: the mode in capitals
/// ("fim" -> "FIM", "l2r" -> "L2R").
std::string record_source(std::string_view mode);

/// What the records of one request share.
struct record_origin {
  std::string_view mode;
  std::string_view model;
  uint64_t request_index = 0;
  std::string_view timestamp;
};

/// A kept name: `name` as extracted from `raw`.
void append_name_record(std::string& out, const record_origin& o,
                        uint32_t choice_index, std::string_view uid,
                        std::string_view name, std::string_view raw);

/// A kept free text: `text` is `raw` stripped.
void append_text_record(std::string& out, const record_origin& o,
                        uint32_t choice_index, std::string_view uid,
                        std::string_view text, std::string_view raw);

/// A request that failed for good.
void append_failure_line(std::string& out, std::string_view mode,
                         const failure_record& rec,
                         std::string_view timestamp);

} // namespace evo
