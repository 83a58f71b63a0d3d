// Near-duplicate detection (dedupe.near) on a synthetic stream with known
// near duplicates: precision, recall (overall and by true Jaccard), records
// per second on one core and bytes held per kept record.
// Usage: evo-bench-near-dedupe [bases] [variants per base] [threshold] [shingle]
//
// Base texts are 50-150 words drawn by a seeded RNG from 3000 made-up
// words; each variant is its base with k random word substitutions, k
// spread so the variants' Jaccard with their base falls on both sides of
// the threshold. The stream is shuffled, bases first within each group (a
// variant seen before its base would make the base the duplicate). Truth:
// a record is a near duplicate when its exact shingle Jaccard with a record
// of its group kept earlier in the stream is >= the threshold; texts of
// different groups share no shingle.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "actors/writer/near_dedupe.hpp"

namespace {

std::vector<std::string> make_words() {
  const char* syl[] = {"ka", "lo", "mi", "ren", "to", "sa", "vu", "de", "pi",
                       "no", "gra", "fel", "tis", "mo", "zu", "be", "qua",
                       "xi", "ha", "wen"};
  std::vector<std::string> out;
  for (int i = 0; i < 3000; ++i)
    out.push_back(std::string(syl[i % 20]) + syl[(i / 20) % 20]
                  + syl[(i / 400) % 20]);
  return out;
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (auto& x : w) {
    if (!s.empty())
      s += ' ';
    s += x;
  }
  return s;
}

struct record {
  size_t group;
  std::string text;
  std::unordered_set<uint64_t> shingles;
};

double jaccard(const record& a, const record& b) {
  size_t common = 0;
  for (auto h : a.shingles)
    common += b.shingles.count(h);
  return double(common) / double(a.shingles.size() + b.shingles.size() - common);
}

// CPU time of this thread: on a shared, loaded machine the wall clock
// counts other processes' turns too.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

} // namespace

int main(int argc, char** argv) {
  size_t bases = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  size_t variants = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 3;
  double threshold = argc > 3 ? std::strtod(argv[3], nullptr) : 0.8;
  uint32_t shingle = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 5;

  std::mt19937_64 rng{20261130};
  auto words = make_words();
  std::vector<record> recs;
  std::vector<std::vector<size_t>> groups(bases);
  uint64_t total_words = 0;
  for (size_t g = 0; g < bases; ++g) {
    std::vector<std::string> w(50 + rng() % 101);
    for (auto& x : w)
      x = words[rng() % words.size()];
    total_words += w.size();
    recs.push_back({g, join(w), {}});
    for (size_t v = 0; v < variants; ++v) {
      // 1..12 % of the words substituted: Jaccard from ~0.97 down to ~0.4.
      size_t k = 1 + (rng() % std::max<size_t>(1, w.size() * 12 / 100));
      auto e = w;
      for (size_t i = 0; i < k; ++i)
        e[rng() % e.size()] = words[rng() % words.size()];
      total_words += e.size();
      recs.push_back({g, join(e), {}});
    }
  }
  for (auto& r : recs) {
    std::vector<uint64_t> h;
    evo::shingle_hashes(r.text, shingle, h);
    r.shingles.insert(h.begin(), h.end());
  }
  // Stream order: groups interleaved at random, each base before its
  // variants.
  std::vector<size_t> order(recs.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<size_t> next(bases, 0);
  for (auto& i : order) {
    size_t g = recs[i].group;
    i = g * (variants + 1) + next[g]++;
  }

  evo::near_dedupe nd{threshold, shingle};
  std::vector<char> verdict(recs.size()); // 1 = kept
  auto t0 = std::chrono::steady_clock::now();
  auto c0 = thread_cpu_s();
  for (size_t i : order)
    verdict[i] = nd.keep(recs[i].text) ? 1 : 0;
  auto cpu = thread_cpu_s() - c0;
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count();

  // Truth along the same stream (the detector's own kept records).
  uint64_t tp = 0, fp = 0, fn = 0, tn = 0;
  uint64_t ctp = 0, cfp = 0, cfn = 0; // outside threshold +- 0.05
  const double edges[] = {0, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.01};
  uint64_t bucket_n[7] = {}, bucket_dropped[7] = {};
  std::vector<std::vector<size_t>> kept(bases);
  for (size_t i : order) {
    auto& r = recs[i];
    double best = 0;
    for (size_t k : kept[r.group])
      best = std::max(best, jaccard(r, recs[k]));
    bool truth = best >= threshold;
    bool dropped = verdict[i] == 0;
    tp += truth && dropped;
    fp += !truth && dropped;
    fn += truth && !dropped;
    tn += !truth && !dropped;
    if (std::abs(best - threshold) >= 0.05) {
      ctp += truth && dropped;
      cfp += !truth && dropped;
      cfn += truth && !dropped;
    }
    if (!kept[r.group].empty())
      for (int b = 0; b < 7; ++b)
        if (best >= edges[b] && best < edges[b + 1]) {
          ++bucket_n[b];
          bucket_dropped[b] += dropped;
        }
    if (!dropped)
      kept[r.group].push_back(i);
  }
  auto shape = nd.shape();
  std::printf("near_dedupe: %zu records (%zu bases x %zu variants), %.1f words "
              "each on average, threshold %.2f, shingle %u\n",
              recs.size(), bases, variants,
              double(total_words) / double(recs.size()), threshold, shingle);
  std::printf("shape: %u bands x %u rows, near duplicate at >= %u equal bands\n",
              shape.bands, shape.rows, shape.min_matches);
  std::printf("truth: %llu near duplicates, %llu new\n",
              static_cast<unsigned long long>(tp + fn),
              static_cast<unsigned long long>(fp + tn));
  std::printf("precision %.4f  recall %.4f  (tp %llu fp %llu fn %llu)\n",
              tp + fp ? double(tp) / double(tp + fp) : 1.0,
              tp + fn ? double(tp) / double(tp + fn) : 1.0,
              static_cast<unsigned long long>(tp),
              static_cast<unsigned long long>(fp),
              static_cast<unsigned long long>(fn));
  std::printf("precision %.4f  recall %.4f  outside threshold +- 0.05 "
              "(tp %llu fp %llu fn %llu)\n",
              ctp + cfp ? double(ctp) / double(ctp + cfp) : 1.0,
              ctp + cfn ? double(ctp) / double(ctp + cfn) : 1.0,
              static_cast<unsigned long long>(ctp),
              static_cast<unsigned long long>(cfp),
              static_cast<unsigned long long>(cfn));
  std::printf("dropped by best true Jaccard with a kept record of the group:\n");
  for (int b = 0; b < 7; ++b)
    std::printf("  [%.2f, %.2f): %6llu records, %5.1f %% dropped\n", edges[b],
                std::min(edges[b + 1], 1.0),
                static_cast<unsigned long long>(bucket_n[b]),
                bucket_n[b] ? 100.0 * double(bucket_dropped[b]) / double(bucket_n[b])
                            : 0.0);
  std::printf("memory %.0f bytes per kept record (%zu kept, %zu bytes)\n",
              double(nd.memory_bytes()) / double(nd.size()), nd.size(),
              nd.memory_bytes());
  std::printf("throughput %.0f records/s per CPU second (%.3f s of CPU); "
              "%.0f records/s by the wall clock (%.3f s)\n",
              double(recs.size()) / cpu, cpu, double(recs.size()) / secs, secs);
  return 0;
}
