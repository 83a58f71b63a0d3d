// new_rate_window: the share of new names among the last W valid choices,
// the memory of the stop_when rule.
#include <doctest/doctest.h>

#include "actors/coordinator/new_rate_window.hpp"

using evo::new_rate_window;

TEST_CASE("the window says nothing until it holds W choices") {
  new_rate_window w{100};
  w.add(0, 99);
  CHECK_FALSE(w.full());
  CHECK_FALSE(w.below(0.02));
  w.add(0, 1);
  CHECK(w.full());
  CHECK(w.below(0.02));
}

TEST_CASE("old choices leave the window as new ones come") {
  new_rate_window w{100};
  w.add(100, 0); // all new
  CHECK(w.fresh() == 100);
  CHECK_FALSE(w.below(0.02));
  w.add(0, 98); // two new ones left in the window
  CHECK(w.fresh() == 2);
  CHECK_FALSE(w.below(0.02)); // 2 of 100 is not fewer than 2 %
  w.add(0, 1);
  CHECK(w.fresh() == 1);
  CHECK(w.below(0.02));
}

TEST_CASE("a window smaller than one request keeps only the last choices") {
  new_rate_window w{64};
  w.add(1000, 0);
  CHECK(w.fresh() == 64);
  w.add(3, 61);
  CHECK(w.fresh() == 3);
}

TEST_CASE("no window: never below") {
  new_rate_window w;
  w.add(0, 1000);
  CHECK_FALSE(w.below(0.5));
}
