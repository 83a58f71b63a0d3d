// The two chart kinds of report.html as inline SVG: lines over x (one or
// two y axes, vertical marks) and bars. Every text is escaped; no script.
// Plain code, no CAF.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace evo {

/// A vertical marker at x with a label (p50, where the run stopped).
struct svg_mark {
  std::string css;
  double x = 0;
  std::string label;
};

/// One polyline: one SVG point per entry of `points`, in order.
struct svg_line {
  std::string css;
  std::string label;
  bool right_axis = false; ///< on the second y axis
  std::vector<std::pair<double, double>> points;
};

struct svg_plot {
  std::string css, title, x_label, y_label, y2_label;
  double y2_hi = 0; ///< 0 = fitted to the data
  std::vector<svg_line> lines;
  std::vector<svg_mark> marks;
};

/// A bar: [lo, hi) of x for a vertical chart, or a labelled row.
struct svg_bar {
  double lo = 0, hi = 0, value = 0;
  std::string label;
};

struct svg_bars {
  std::string css, title, x_label;
  bool horizontal = false; ///< labelled rows instead of x ranges
  double x_hi = 0;
  std::vector<svg_bar> bars; ///< one <rect class="bar"> each
  std::vector<svg_mark> marks;
};

/// A number for people: at most 4 significant digits, no exponent below 1e9.
std::string svg_number(double v);

std::string render_svg_plot(const svg_plot& p);
std::string render_svg_bars(const svg_bars& b);

} // namespace evo
