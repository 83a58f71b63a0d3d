// The model_config chain: reads datagen.yaml and each file its model_config
// names (looked up like the Python tool), refuses cycles and overlong chains,
// and deep-merges the files into one tree (the naming file wins key by key).
#include "app/config/config_chain.hpp"
#include "app/config/python_keys.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>

namespace evo::cfg {

namespace {

namespace fs = std::filesystem;

/// How many files a model_config chain may hold (datagen.yaml included).
constexpr int max_chain = 16;

// -- merging the chain ---------------------------------------------------------

/// Deep merge: maps merge key by key, anything else in `over` replaces `base`;
/// an empty section (`api:` with nothing under it) leaves `base` as it is.
void merge(src_node& base, src_node over) {
  if (base.value.IsMap() && over.value.IsMap()) {
    for (auto& [name, child] : over.children) {
      if (src_node* b = base.find(name))
        merge(*b, std::move(child));
      else
        base.children.emplace_back(name, std::move(child));
    }
    return;
  }
  if (over.value.IsNull() && !over.streamed_list && base.value.IsMap())
    return;
  base = std::move(over);
}

} // namespace

src_node load_tree(const std::string& path, config_notes* notes) {
  std::vector<src_node> trees;
  std::vector<std::pair<fs::path, std::string>> seen; // canonical, as named
  std::string current = path;
  for (int depth = 0; depth < max_chain; ++depth) {
    std::shared_ptr<std::vector<std::string>> weak;
    src_node tree =
      build(parse_file(current, "config keys", &weak), YAML::Node(), current, "");
    if (weak) {
      src_node* g = tree.find("namegen");
      src_node* w = g != nullptr ? g->find("weaklist") : nullptr;
      if (w == nullptr) // the event pass and the tree disagree: a bug here
        throw std::logic_error(current + ": namegen.weaklist streamed but not in the tree");
      w->streamed_list = std::move(weak);
    }
    drop_placeholders(tree, "", notes);
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(current, ec);
    if (ec)
      canon = fs::absolute(current);
    seen.emplace_back(canon, current);
    std::string next;
    if (const src_node* mc = tree.find("model_config");
        mc != nullptr && !mc->value.IsNull()) {
      if (kind_of(mc->value) != scalar_kind::string || mc->value.Scalar().empty()
          || !mc->value.IsScalar())
        fail(*mc, "model_config", "a non-empty path of a YAML file",
             describe(mc->value));
      const std::string& want = mc->value.Scalar();
      fs::path p(want);
      fs::path dir = fs::path(current).parent_path();
      fs::path configs_root;
      const auto candidates = model_config_candidates(current, p, configs_root);
      fs::path found;
      std::string why;
      for (const auto& [c, reason] : candidates) {
        std::error_code ec2;
        if (fs::exists(c, ec2)) {
          found = c;
          why = reason;
          break;
        }
      }
      if (found.empty()) {
        std::string roots =
          configs_root.empty()
            ? std::string()
            : ", the configs folder '" + configs_root.string()
                + "', its project folder '"
                + configs_root.parent_path().string() + "'";
        std::string looked =
          p.is_absolute() ? std::string("an existing file")
          : dir.empty() && roots.empty()
            ? std::string("an existing file (relative to the current directory)")
          : dir.empty()
            ? "an existing file (relative to" + roots.substr(1)
                + " or the current directory)"
            : "an existing file (relative to '" + dir.string() + "'" + roots
                + " or the current directory)";
        fail(*mc, "model_config", looked, quote(want));
      }
      if (notes != nullptr)
        notes->info.push_back("model_config " + quote(want) + " of " + current
                              + ": using " + found.string() + " (" + why + ")");
      std::error_code ec3;
      fs::path found_canon = fs::weakly_canonical(found, ec3);
      if (ec3)
        found_canon = fs::absolute(found);
      for (const auto& [c, name] : seen) {
        if (c == found_canon) {
          std::string cycle;
          for (const auto& s : seen)
            cycle += s.second + " -> ";
          cycle += found.string();
          fail(*mc, "model_config", "a file not already loaded",
               "a cycle: " + cycle);
        }
      }
      if (depth + 1 >= max_chain)
        fail(*mc, "model_config",
             "at most " + std::to_string(max_chain) + " chained config files",
             "more");
      next = found.string();
    }
    trees.push_back(std::move(tree));
    if (next.empty())
      break;
    current = next;
  }
  src_node merged = std::move(trees.back());
  for (size_t i = trees.size() - 1; i-- > 0;)
    merge(merged, std::move(trees[i]));
  return merged;
}

} // namespace evo::cfg
