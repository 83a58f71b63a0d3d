// Reading one YAML config file for the loaders (see yaml_schema.hpp, "reading
// files"): refuses what is not a bounded regular file, parses one document
// whose top level is a mapping, refolds multi-line quoted scalars, and builds
// the src_node tree with each key once.
#include "app/config/yaml_schema.hpp"
#include "app/config/quoted_scalar.hpp"
#include "app/config/weaklist_stream.hpp"

#include <yaml-cpp/eventhandler.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace evo::cfg {

namespace fs = std::filesystem;

namespace {

// Counts the nodes of one document (and where the first one is) without
// building it.
struct document_probe : YAML::EventHandler {
  int nodes = 0;
  int first_line = 0;
  void seen(const YAML::Mark& m) {
    if (nodes++ == 0)
      first_line = m.line >= 0 ? m.line + 1 : 1;
  }
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { seen(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { seen(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    seen(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    seen(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    seen(m);
  }
  void OnMapEnd() override {}
};

} // namespace

/// Every quoted scalar of `n` that spans lines gets the value the YAML spec
/// gives it (yaml-cpp 0.7 misreads some; see quoted_scalar.hpp).
static void refold_quoted(YAML::Node n, const std::string& text) {
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it)
      refold_quoted(it->second, text);
  } else if (n.IsSequence()) {
    for (auto it = n.begin(); it != n.end(); ++it)
      refold_quoted(*it, text);
  } else if (n.IsScalar() && n.Mark().pos >= 0) {
    auto pos = static_cast<size_t>(n.Mark().pos);
    if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"'))
      if (auto v = refold_quoted_scalar(text, pos); v && *v != n.Scalar())
        n = *v;
  }
}

YAML::Node parse_file(const std::string& name, const std::string& what,
                      std::shared_ptr<std::vector<std::string>>* weaklist) {
  std::error_code ec;
  if (fs::is_directory(name, ec))
    throw config_error(name + ": cannot read: " + std::strerror(EISDIR));
  // Non-blocking: a FIFO must not hang the open; fstat then says what it is.
  const int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw config_error(name + ": cannot read: " + std::strerror(errno));
  struct fd_closer {
    int fd;
    ~fd_closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw config_error(name + ": cannot read: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw config_error(name + ": cannot read: expected a regular file, got "
                       + kind);
  }
  const auto limit = max_config_file_bytes;
  if (static_cast<uint64_t>(st.st_size) > limit)
    throw config_error(name + ": cannot read: expected a file of at most "
                       + std::to_string(limit >> 20) + " MiB, got "
                       + std::to_string(st.st_size) + " bytes");
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  while (true) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      throw config_error(name + ": cannot read: " + std::strerror(errno));
    if (got == 0)
      break;
    // A file that grows while read is cut at the limit, not read forever.
    if (content.size() + static_cast<size_t>(got) > limit)
      throw config_error(name + ": cannot read: expected a file of at most "
                         + std::to_string(limit >> 20) + " MiB, got more");
    content.append(buf, static_cast<size_t>(got));
  }
  if (weaklist != nullptr)
    *weaklist = stream_weaklist(content);
  // Not YAML::LoadAll: on some malformed input (a lone ",") yaml-cpp 0.7
  // yields documents without end and LoadAll never returns. Load the first
  // document, then look at most one document further.
  YAML::Node first;
  int second_line = 0;
  try {
    // One parse when the text cannot hold a second document (no line starts
    // with a document marker) and is not empty: parsing is most of the cost
    // of a large file (a long weak list).
    const bool markers = content.rfind("---", 0) == 0 || content.rfind("...", 0) == 0
                         || content.find("\n---") != std::string::npos
                         || content.find("\n...") != std::string::npos;
    if (!markers)
      first = YAML::Load(content);
  } catch (const YAML::Exception& e) {
    throw config_error(name + ":" + std::to_string(e.mark.line + 1) + ":"
                       + std::to_string(e.mark.column + 1)
                       + ": YAML syntax error: " + e.msg);
  }
  if (!first.IsDefined() || first.IsNull()) try {
    std::istringstream in(content);
    YAML::Parser parser(in);
    document_probe probe;
    if (!parser.HandleNextDocument(probe) || probe.nodes == 0)
      throw config_error(name + ":1: top level: expected a mapping of " + what
                         + ", got an empty file");
    document_probe next;
    if (parser.HandleNextDocument(next) && next.nodes > 0)
      second_line = next.first_line;
    first = YAML::Load(content);
  } catch (const YAML::Exception& e) {
    throw config_error(name + ":" + std::to_string(e.mark.line + 1) + ":"
                       + std::to_string(e.mark.column + 1)
                       + ": YAML syntax error: " + e.msg);
  }
  if (second_line > 0)
    throw config_error(name + ":" + std::to_string(second_line)
                       + ": top level: expected one YAML document, got more than one");
  refold_quoted(first, content);
  std::vector<YAML::Node> docs{first};
  const YAML::Node& root = docs.front();
  if (!root.IsMap()) {
    int line = root.Mark().line >= 0 ? root.Mark().line + 1 : 1;
    // Described by kind only: the file could hold anything, a key included.
    throw config_error(name + ":" + std::to_string(line)
                       + ": top level: expected a mapping of " + what + ", got "
                       + describe(root, true));
  }
  return root;
}

src_node build(const YAML::Node& value, const YAML::Node& key,
               const std::string& file, const std::string& path,
               const std::string& ctx) {
  src_node out{file, key, value, {}, ctx, {}};
  if (!value.IsMap())
    return out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    // Copies: the iterator hands out a temporary pair.
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      src_node bad{file, k, k, {}, ctx, {}};
      fail(bad, path.empty() ? "(top level)" : path, "plain keys",
           describe(k, true) + " as a key");
    }
    const std::string name = k.Scalar();
    const std::string child_path = join(path, name);
    if (const src_node* first = out.find(name)) {
      src_node dup{file, k, k, {}, ctx, {}};
      fail_at_key(dup, child_path, "each key once",
                  "a second '" + name + "' (first on line "
                    + std::to_string(line_of_key(*first)) + ")");
    }
    out.children.emplace_back(name, build(v, k, file, child_path, ctx));
  }
  return out;
}

} // namespace evo::cfg
