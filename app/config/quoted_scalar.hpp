// Re-reading a quoted YAML scalar that spans several lines, by the YAML 1.2
// folding rules. yaml-cpp 0.7 folds some of them wrongly: PyYAML's
// yaml.safe_dump of `stop: ["\n"]` writes
//     - '
//
//       '
// which yaml-cpp reads as "" where YAML (and PyYAML) reads "\n". The loader
// decodes every multi-line quoted scalar again with this and keeps this value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace evo::cfg {

/// The value of the single- or double-quoted scalar whose opening quote is
/// at text[pos], if it spans more than one line; nullopt for a one-line
/// scalar, no quote at pos, or text this decoder does not understand (an
/// unknown escape, no closing quote: yaml-cpp has refused those already).
std::optional<std::string> refold_quoted_scalar(const std::string& text,
                                                size_t pos);

} // namespace evo::cfg
