// The outside project's program: one L2R and one FIM completion (the FIM one
// through the async call) against the server given on the command line,
// with a hand-filled api_config. Prints what it got; exits 1 when a call
// gives no choices or an empty one.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/client.hpp"

namespace {

bool print(const char* call, const std::vector<std::string>& choices) {
  std::printf("%s: %zu choice(s)", call, choices.size());
  bool ok = !choices.empty();
  for (const auto& c : choices) {
    std::string flat; // one line per call, for the test's grep
    for (char ch : c)
      flat += ch == '\n' ? std::string{"\\n"} : std::string(1, ch);
    std::printf(" [%s]", flat.c_str());
    ok = ok && !c.empty();
  }
  std::printf("\n");
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: outside_client http://HOST:PORT\n");
    return 2;
  }
  try {
    evo::api_config api;
    api.base_url = argv[1]; // no "/v1": the client appends it
    api.max_concurrent_requests = 2;
    api.semaphore_size = 2;
    api.max_retries = 1;
    api.timeout_s = 10;
    evo::client c{api, "outside-model"};
    std::printf("base_url: %s\n", c.base_url().c_str());
    evo::sampling_params params;
    params.n = 2;
    params.seed = 7;
    bool ok = print("complete", c.complete("def ", params));
    auto fim = c.complete_fim_async("def ", "(xs):\n", params);
    ok = print("complete_fim", fim.get()) && ok;
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outside_client: %s\n", e.what());
    return 1;
  }
}
