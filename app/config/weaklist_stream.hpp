// Internal to evo_config. Reading namegen.weaklist of one config file with
// yaml-cpp's event parser, before the node tree is built: a node costs about
// 550 bytes, so a list of millions of names read as a tree took over 1 GB.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace evo::cfg {

/// The strings of the sequence (block or flow style) at namegen -> weaklist
/// of the YAML `text`, with that sequence taken out of `text` (only its line
/// breaks stay, and spaces up to where the next node starts: lines and
/// columns of the rest stay, and the key's value reads as null). nullptr,
/// and `text` untouched, when the list is anything else: absent, null, not a
/// sequence, under a flow-style mapping, anchored or tagged, given twice, or
/// holding any item that is not a scalar the tree reads as a string (a
/// mapping, a list, an alias, an anchored item, a number, null...), or when
/// the text does not parse. The node tree then reads the list as before and
/// reports its errors with file:line:key.
std::shared_ptr<std::vector<std::string>> stream_weaklist(std::string& text);

} // namespace evo::cfg
