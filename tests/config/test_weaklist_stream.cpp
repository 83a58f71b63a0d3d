// namegen.weaklist read by the event pass (app/config/weaklist_stream.hpp):
// the same strings as the node tree reads, the rest of the file unchanged,
// and everything it does not take left to the tree (with its errors).
#include <doctest/doctest.h>

#include "app/config/config_loader.hpp"
#include "app/config/weaklist_stream.hpp"
#include "app/config/yaml_schema.hpp"
#include "tests/config/config_test_util.hpp"

#include <string>
#include <vector>

using namespace evo;
using namespace evo::test;

namespace {

const std::string models =
  "models:\n  default: m\n  m:\n    name: m\n    supports_fim: false\n";

/// namegen.weaklist as the node tree reads it from `text` (parse_file
/// without the event pass: quoted scalars refolded as in a real load).
std::vector<std::string> tree_list(const std::string& text) {
  temp_dir d;
  write(d.path / "t.yaml", text);
  cfg::src_node tree =
    cfg::build(cfg::parse_file(d.file("t.yaml")), YAML::Node(), "t.yaml", "");
  const cfg::src_node* w = tree.find("namegen")->find("weaklist");
  REQUIRE(w != nullptr);
  if (w->value.IsNull())
    return {};
  return cfg::as_string_list(*w, "namegen.weaklist");
}

/// Streams `text`: the list must be taken, equal the tree's, and the blanked
/// text must keep its lines and read as the original with a null weaklist.
void check_streamed(const std::string& text) {
  CAPTURE(text);
  std::string blanked = text;
  auto list = cfg::stream_weaklist(blanked);
  REQUIRE(list != nullptr);
  CHECK(*list == tree_list(text));
  CHECK(std::count(blanked.begin(), blanked.end(), '\n')
        == std::count(text.begin(), text.end(), '\n'));
  YAML::Node after = YAML::Load(blanked);
  CHECK(after["namegen"]["weaklist"].IsNull());
  YAML::Node before = YAML::Load(text);
  CHECK(after["namegen"].size() == before["namegen"].size());
  CHECK(YAML::Dump(after["namegen"]["n"]) == YAML::Dump(before["namegen"]["n"]));
  CHECK(YAML::Dump(after["io"]) == YAML::Dump(before["io"]));
}

/// Not streamed: nullptr and the text untouched.
void check_left(const std::string& text) {
  CAPTURE(text);
  std::string copy = text;
  CHECK(cfg::stream_weaklist(copy) == nullptr);
  CHECK(copy == text);
}

} // namespace

TEST_CASE("a streamed weak list equals the tree's on varied inputs") {
  check_streamed("namegen:\n  weaklist:\n    - a\n    - B c\n  n: 2\nio: {x: 1}\n");
  // Indentless block sequence, comments, a key before it.
  check_streamed("namegen:\n  n: 3\n  weaklist:\n  - a  # one\n  # gap\n  - b\n"
                 "io:\n  x: 1\n");
  check_streamed("namegen:\n  weaklist: [a, \"b c\", 'd']\n  n: 2\n");
  check_streamed("namegen:\n  weaklist: []\n  n: 2\n");
  // Quoted, escapes, !!str, a quoted number, a multi-line quoted scalar
  // (refolded like the tree does), unicode.
  check_streamed("namegen:\n  weaklist:\n    - \"x\\ty\"\n    - 'it''s'\n"
                 "    - !!str 5\n    - \"5\"\n    - \"a\n      b\"\n    - '\n\n      '\n"
                 "    - \xc3\xa9t\xc3\xa9\n  n: 1\n");
  // The last node of the file, after a document start marker, CRLF lines.
  check_streamed("---\nio: 1\nnamegen:\n  weaklist:\n    - a\n    - b\n");
  // The node after the list has properties: they stay.
  check_streamed("namegen:\n  weaklist:\n    - a\n  !!str n: &k 2\nio: {x: *k}\n");
  check_streamed("namegen:\n  weaklist:\n    - a\n  &k n: 2\nio: {x: *k}\n");
  check_streamed("namegen:\n  weaklist:\n    - a\n&k io: {x: 1}\nother: *k\n");
  check_streamed("namegen:\r\n  weaklist:\r\n    - a\r\n    - b\r\n  n: 4\r\n");
}

TEST_CASE("a weak list the event pass does not take is left to the tree") {
  check_left("namegen:\n  weaklist:\n  n: 2\n");
  check_left("namegen:\n  weaklist: null\n");
  check_left("namegen:\n  n: 2\n");
  check_left("weaklist: [a]\nnamegen:\n  n: 2\n"); // not under namegen
  check_left("namegen:\n  stop: [a, b]\n  weaklist:\n"); // another list
  check_left("other:\n  weaklist: [a, b]\n");
  check_left("namegen: {weaklist: [a, b], n: 2}\n"); // flow mapping
  check_left("namegen:\n  weaklist: &w [a, b]\n");
  check_left("namegen:\n  weaklist: !!seq [a, b]\n");
  check_left("namegen:\n  weaklist:\n    - a\n    - &x b\n");
  check_left("x: &x a\nnamegen:\n  weaklist:\n    - *x\n");
  check_left("namegen:\n  weaklist:\n    - a\n    - 5\n");
  check_left("namegen:\n  weaklist:\n    - true\n");
  check_left("namegen:\n  weaklist:\n    - ~\n");
  check_left("namegen:\n  weaklist:\n    -\n    - a\n");
  check_left("namegen:\n  weaklist:\n    - a\n    - {b: 1}\n");
  check_left("namegen:\n  weaklist:\n    - a\n    - [b]\n");
  check_left("namegen:\n  weaklist: [a]\n  weaklist: [b]\n"); // the tree refuses it
  check_left("namegen:\n  weaklist:\n    - a\n...\n");
  check_left("namegen:\n  weaklist: [a, \n"); // a syntax error
}

TEST_CASE("the loader reads a streamed weak list and keeps the errors of others") {
  temp_dir d;
  auto load = [&](const std::string& body) {
    write(d.path / "datagen.yaml", models + body);
    return load_datagen_config(d.file("datagen.yaml"), no_env);
  };
  auto c = load("namegen:\n  weaklist:\n    - Main\n    - 'x y'\n  n: 3\n");
  CHECK(c.namegen.weaklist == std::vector<std::string>{"Main", "x y"});
  CHECK(c.namegen.params.n == 3);
  CHECK(load("namegen:\n  weaklist: []\n").namegen.weaklist.empty());
  CHECK(load("namegen:\n  weaklist:\n").namegen.weaklist.empty());
  const std::string f = d.file("datagen.yaml");
  CHECK(error_of([&] { load("namegen:\n  weaklist:\n    - a\n    - {b: 1}\n"); })
        == f + ":9: key 'namegen.weaklist[1]': expected a string, got a mapping");
  CHECK(error_of([&] { load("namegen:\n  weaklist:\n    - a\n    - [b]\n"); })
        == f + ":9: key 'namegen.weaklist[1]': expected a string, got a sequence");
  CHECK(error_of([&] { load("namegen:\n  weaklist:\n    - a\n    - 5\n"); })
        == f + ":9: key 'namegen.weaklist[1]': expected a string, got 5");
  // Keys are still checked in the namegen section that held the list.
  CHECK(error_of([&] { load("namegen:\n  weaklist: [a]\n  bogus: 1\n"); })
            .rfind(f + ":8: key 'namegen.bogus'", 0) == 0);
}

TEST_CASE("a streamed weak list follows the model_config chain's precedence") {
  temp_dir d;
  write(d.path / "model.yaml", models + "namegen:\n  weaklist:\n    - base\n");
  auto load = [&](const std::string& body) {
    write(d.path / "datagen.yaml", "model_config: model.yaml\n" + body);
    return load_datagen_config(d.file("datagen.yaml"), no_env).namegen.weaklist;
  };
  CHECK(load("namegen:\n  n: 2\n") == std::vector<std::string>{"base"});
  CHECK(load("namegen:\n  weaklist:\n    - top\n") == std::vector<std::string>{"top"});
  CHECK(load("namegen:\n  weaklist: []\n").empty());
  CHECK(load("namegen:\n  weaklist:\n").empty()); // a null replaces it, as before
  // A mapping in the base is replaced by the naming file's list.
  write(d.path / "model.yaml", models + "namegen:\n  weaklist: {a: 1}\n");
  CHECK(load("namegen:\n  weaklist:\n    - top\n") == std::vector<std::string>{"top"});
}
