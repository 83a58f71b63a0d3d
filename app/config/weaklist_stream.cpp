// The event pass over one config file that takes namegen.weaklist out of the
// text before the node tree is built (see weaklist_stream.hpp). Anything
// unusual makes it give up, so the tree reads the file exactly as before.
#include "app/config/weaklist_stream.hpp"
#include "app/config/quoted_scalar.hpp"
#include "app/config/yaml_schema.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <istream>
#include <streambuf>

namespace evo::cfg {

namespace {

/// Not streamed: the tree reads the list.
struct give_up {};

/// Most entries reserved up front (4 Mi: 128 MiB of address space).
constexpr size_t max_reserve = size_t{1} << 22;

/// Reads `text` in place (an istringstream would copy a file of up to 64 MiB).
struct view_buf : std::streambuf {
  explicit view_buf(std::string& text) {
    char* b = text.data();
    setg(b, b, b + text.size());
  }
};

struct weaklist_finder : YAML::EventHandler {
  struct frame {
    bool map = false;
    bool flow = false;
    bool expect_key = true; ///< maps: the next node is a key
    std::string key;        ///< maps: the key whose value is being read
  };

  explicit weaklist_finder(const std::string& text) : text(text) {}

  const std::string& text;
  std::vector<frame> stack;
  std::shared_ptr<std::vector<std::string>> list;
  bool in_list = false;   ///< the sequence is open
  bool want_end = false;  ///< closed; the next node's mark ends it
  size_t start = 0;
  size_t end = std::string::npos;

  /// Bookkeeping for a node about to be read; true when it is an item of
  /// the list.
  bool node(const YAML::Mark& m) {
    if (want_end) {
      want_end = false;
      end = static_cast<size_t>(m.pos);
    }
    if (in_list && stack.size() == 3)
      return true;
    if (!stack.empty() && stack.back().map) {
      frame& f = stack.back();
      if (f.expect_key)
        f.key.clear();
      f.expect_key = !f.expect_key;
    }
    return false;
  }
  /// The node being read is the value at top level -> namegen -> weaklist,
  /// both mappings block style.
  bool at_weaklist() const {
    return stack.size() == 2 && stack[0].map && !stack[0].flow
           && stack[0].key == "namegen" && stack[1].map && !stack[1].flow
           && stack[1].key == "weaklist" && stack[1].expect_key;
  }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override {
    if (node(m))
      throw give_up{};
  }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    if (node(m))
      throw give_up{};
  }
  void OnScalar(const YAML::Mark& m, const std::string& tag,
                YAML::anchor_t anchor, const std::string& value) override {
    if (!node(m)) {
      frame* f = stack.empty() ? nullptr : &stack.back();
      // A key was read when expect_key flipped back to false.
      if (f != nullptr && f->map && !f->expect_key)
        f->key = value;
      return;
    }
    if (anchor != YAML::NullAnchor || kind_of_scalar(tag, value) != scalar_kind::string)
      throw give_up{};
    // Multi-line quoted scalars: the value the tree would get (yaml_file.cpp).
    const auto pos = static_cast<size_t>(m.pos);
    if (m.pos >= 0 && pos < text.size() && (text[pos] == '\'' || text[pos] == '"'))
      if (auto v = refold_quoted_scalar(text, pos)) {
        list->push_back(std::move(*v));
        return;
      }
    list->push_back(value);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string& tag,
                       YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    if (node(m))
      throw give_up{};
    if (at_weaklist()) {
      if (list || anchor != YAML::NullAnchor || (tag != "?" && !tag.empty())
          || m.pos < 0)
        throw give_up{}; // a second one, or anchored or tagged
      list = std::make_shared<std::vector<std::string>>();
      in_list = true;
      start = static_cast<size_t>(m.pos);
      // Growing by doubling leaves the smaller copies behind in the heap
      // (a third more peak memory for millions of names). A block list holds
      // at most one item a line, and reserved pages that are never written
      // cost no memory; capped, so a huge file of other things does not
      // reserve gigabytes of address space.
      if (style != YAML::EmitterStyle::Flow)
        list->reserve(std::min<size_t>(
          static_cast<size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(start),
                                         text.end(), '\n')) + 1,
          max_reserve));
    }
    stack.push_back(frame{false, style == YAML::EmitterStyle::Flow, true, {}});
  }
  void OnSequenceEnd() override {
    stack.pop_back();
    if (in_list && stack.size() == 2) {
      in_list = false;
      want_end = true;
    }
  }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value style) override {
    if (node(m))
      throw give_up{};
    stack.push_back(frame{true, style == YAML::EmitterStyle::Flow, true, {}});
  }
  void OnMapEnd() override { stack.pop_back(); }
};

} // namespace

std::shared_ptr<std::vector<std::string>> stream_weaklist(std::string& text) {
  // Cheap test first: most configs have no weak list.
  if (text.find("weaklist") == std::string::npos)
    return nullptr;
  weaklist_finder f(text);
  try {
    view_buf buf(text);
    std::istream in(&buf);
    YAML::Parser parser(in);
    parser.HandleNextDocument(f);
  } catch (const give_up&) {
    return nullptr;
  } catch (const YAML::Exception&) {
    return nullptr; // the tree reports it
  }
  if (!f.list || f.in_list)
    return nullptr;
  size_t end = f.end;
  if (end == std::string::npos) {
    // Last node of the document: to the end of the text, unless another
    // document or an end marker follows (not worth the care: give up).
    if (text.find("\n---", f.start) != std::string::npos
        || text.find("\n...", f.start) != std::string::npos)
      return nullptr;
    end = text.size();
  }
  if (end < f.start || end > text.size())
    return nullptr;
  // Keep the line breaks (the lines of the rest stay) and, as spaces, what
  // is on the line of `end` before it (its column stays); drop the rest.
  size_t last_break = f.start;
  for (size_t i = f.start; i < end; ++i)
    if (text[i] == '\n' || text[i] == '\r')
      last_break = i + 1;
  size_t w = f.start;
  for (size_t i = f.start; i < end; ++i) {
    if (text[i] == '\n' || text[i] == '\r')
      text[w++] = text[i];
    else if (i >= last_break)
      text[w++] = ' ';
  }
  text.erase(w, end - w);
  // The parse that follows copies the text (YAML::Load): give back the room
  // the list took.
  text.shrink_to_fit();
  if (f.list->capacity() > 2 * f.list->size() + 16)
    f.list->shrink_to_fit();
  return std::move(f.list);
}

} // namespace evo::cfg
