#include "tools/sim/name_gen.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace evo::sim::detail {
namespace {

// Names a code model reaches for first: the head of the distribution.
const char* const k_famous[] = {
    "merge_sorted_lists", "two_sum", "find_kth_largest", "is_valid_palindrome",
    "count_inversions", "reverse_linked_list", "longest_common_prefix", "binary_search",
    "max_subarray_sum", "climb_stairs", "coin_change", "longest_increasing_subsequence",
    "merge_intervals", "rotate_matrix", "num_islands", "valid_parentheses",
    "level_order_traversal", "lowest_common_ancestor", "top_k_frequent", "group_anagrams",
    "product_except_self", "trap_rain_water", "min_path_sum", "edit_distance",
    "word_break", "detect_cycle", "topological_sort", "dijkstra_shortest_path",
    "find_median_sorted_arrays", "longest_palindromic_substring", "generate_permutations",
    "find_subsets", "quick_sort", "merge_sort", "heap_sort", "is_balanced_tree",
    "invert_binary_tree", "max_depth", "search_rotated_array", "find_missing_number",
    "single_number", "majority_element", "spiral_order", "knapsack",
    "count_bits", "hamming_distance", "find_kth_smallest", "is_anagram",
};
constexpr uint64_t k_famous_n = sizeof(k_famous) / sizeof(k_famous[0]);

const char* const k_verbs[] = {
    "find", "count", "merge", "sort", "reverse", "rotate", "search", "build",
    "compute", "check", "remove", "insert", "partition", "flatten", "detect", "validate",
    "generate", "calculate", "get", "split", "group", "encode", "decode", "convert",
    "serialize", "deserialize", "traverse", "balance", "compress", "shuffle", "sum", "minimize",
    "maximize", "schedule", "match", "parse", "evaluate", "simplify", "connect", "fill",
};
const char* const k_qualifiers[] = {
    "sorted", "longest", "shortest", "kth", "largest", "smallest", "minimum", "maximum",
    "valid", "unique", "duplicate", "common", "consecutive", "balanced", "rotated", "reversed",
    "binary", "prefix", "palindromic", "increasing", "decreasing", "missing", "nearest", "distinct",
    "optimal", "median", "adjacent", "bipartite", "weighted", "lexicographic",
};
const char* const k_nouns[] = {
    "array", "lists", "list", "string", "substring", "subarray", "subsequence", "tree",
    "node", "nodes", "path", "paths", "graph", "edges", "intervals", "matrix",
    "grid", "islands", "palindrome", "anagrams", "permutations", "combinations", "inversions", "parentheses",
    "brackets", "prefix", "sum", "product", "window", "stack", "queue", "heap",
    "elements", "numbers", "digits", "words", "characters", "cycle", "components", "coins",
    "stairs", "jumps", "points", "rectangles", "triangles", "meetings", "tasks", "courses",
    "tokens", "bits",
};
constexpr uint64_t NV = sizeof(k_verbs) / sizeof(k_verbs[0]);
constexpr uint64_t NQ = sizeof(k_qualifiers) / sizeof(k_qualifiers[0]);
constexpr uint64_t NN = sizeof(k_nouns) / sizeof(k_nouns[0]);
// Patterns: verb_noun | verb_qual_noun | is_qual_noun | verb_noun_in_noun
constexpr uint64_t P0 = NV * NN, P1 = NV * NQ * NN, P2 = NQ * NN, P3 = NV * NN * NN;
constexpr uint64_t k_space = P0 + P1 + P2 + P3;

const char* const k_args[] = {"nums", "head", "root", "s", "grid", "intervals", "a, b",
                              "nums, k", "s, t", "matrix", "graph, start", "n", "arr, target",
                              "l1, l2", "words"};
const char* const k_bodies[] = {
    "n = len(nums)\n", "result = []\n", "pass\n", "if not nums:\n        return 0\n",
    "\"\"\"Return the answer.\"\"\"\n", "stack = []\n", "dp = [0] * (n + 1)\n",
    "left, right = 0, len(nums) - 1\n",
};
template <class T, size_t N>
constexpr size_t count_of(T (&)[N]) { return N; }

std::string camel(const std::string& snake) {
  std::string out;
  bool up = true;
  for (char c : snake) {
    if (c == '_') { up = true; continue; }
    out += up ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

}  // namespace

name_generator::name_generator(int vocabulary) : vocabulary_(vocabulary < 0 ? 0 : vocabulary) {}

std::string name_generator::text_variant(rng& r, uint64_t bases) const {
  rng base(mix64(r.below(bases) ^ 0x74657874ULL)); // the base text's own RNG
  const char* const* lists[] = {k_verbs, k_qualifiers, k_nouns};
  const uint64_t sizes[] = {NV, NQ, NN};
  std::string s = "Write a function that";
  for (uint64_t i = 0, words = 60 + base.below(61); i + 1 < words; ++i) {
    uint64_t l = base.below(3);
    s.append(" ").append(lists[l][base.below(sizes[l])]);
  }
  return s.append(" ").append(k_nouns[r.below(NN)]).append(".");
}

uint64_t name_generator::space_size() const { return k_famous_n + k_space; }

std::string name_generator::combo(uint64_t i) const {
  std::string s;
  s.reserve(40);
  if (i < P0) {
    s.append(k_verbs[i / NN]).append("_").append(k_nouns[i % NN]);
    return s;
  }
  i -= P0;
  if (i < P1) {
    uint64_t v = i / (NQ * NN), q = (i / NN) % NQ, n = i % NN;
    s.append(k_verbs[v]).append("_").append(k_qualifiers[q]).append("_").append(k_nouns[n]);
    return s;
  }
  i -= P1;
  if (i < P2) {
    s.append("is_").append(k_qualifiers[i / NN]).append("_").append(k_nouns[i % NN]);
    return s;
  }
  i -= P2;
  i %= P3;
  uint64_t v = i / (NN * NN), a = (i / NN) % NN, b = i % NN;
  s.append(k_verbs[v]).append("_").append(k_nouns[a]).append("_in_").append(k_nouns[b]);
  return s;
}

std::string name_generator::vocabulary_name(uint64_t i) const {
  std::string s = combo(mix64(i) % k_space);
  s.append("_").append(std::to_string(i));
  return s;
}

std::string name_generator::name(rng& r, const sample_params& p) const {
  if (vocabulary_ > 0) return vocabulary_name(r.below(uint64_t(vocabulary_)));
  // How many ranks are reachable: T=0 -> 1 name, T=0.2 -> ~6 (a real model
  // at low temperature repeats a handful), growing geometrically to the whole
  // space at T>=1.2. top_p narrows it further.
  const double t = std::max(0.0, p.temperature);
  const double full = double(space_size());
  double cap;
  if (t <= 0.2) cap = 1.0 + 5.0 * (t / 0.2);
  else cap = 6.0 * std::pow(full / 6.0, std::min(1.0, (t - 0.2) / 1.0));
  const double tp = std::clamp(p.top_p, 0.0, 1.0);
  cap = 1.0 + (cap - 1.0) * tp;
  // Log-uniform rank in [0, cap): heavy head, long tail.
  uint64_t rank = uint64_t(std::exp(r.uniform() * std::log(cap + 1.0))) - 1;
  if (double(rank) >= cap) rank = uint64_t(cap) > 0 ? uint64_t(cap) - 1 : 0;
  if (rank < k_famous_n) return k_famous[(rank + p.prompt_hash) % k_famous_n];
  return combo(mix64(rank ^ p.prompt_hash) % k_space);
}

std::string name_generator::junk_name(rng& r, const std::string& base) const {
  switch (r.below(5)) {
    case 0: return "";
    case 1: return "Solution";
    case 2: {
      static const char* const digits[] = {"2sum", "3sum_closest", "1d_dp", "0_1_knapsack"};
      return digits[r.below(4)];
    }
    case 3: return camel(base);
    default: return std::to_string(r.below(10)) + base;
  }
}

std::string name_generator::fim_text(rng& r, const sample_params& p) const {
  std::string n = name(r, p);
  const double junk_rate = 0.02 + 0.02 * std::min(2.0, std::max(0.0, p.temperature));
  double u = r.uniform();
  if (u < junk_rate) return junk_name(r, n);
  if (u < junk_rate + 0.03) n.push_back(' ');  // trailing space: fine after trim
  return n;
}

std::string name_generator::l2r_text(rng& r, const sample_params& p) const {
  std::string n = name(r, p);
  const double junk_rate = 0.02 + 0.02 * std::min(2.0, std::max(0.0, p.temperature));
  if (r.uniform() < junk_rate) n = junk_name(r, n);
  std::string s;
  s.reserve(96);
  s.append(n).append("(").append(k_args[r.below(count_of(k_args))]).append("):\n    ");
  s.append(k_bodies[r.below(count_of(k_bodies))]);
  return s;
}

}  // namespace evo::sim::detail
