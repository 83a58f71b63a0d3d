#include "app/report_svg.hpp"
#include "app/report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace evo {

namespace {

constexpr double width = 520, height = 210;
constexpr double left = 56, right = 56, top = 24, bottom = 36;
constexpr double plot_w = width - left - right, plot_h = height - top - bottom;

std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string open_svg(const std::string& css, const std::string& title,
                     double h = height) {
  return "<svg class=\"chart " + html_escape(css)
         + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + coord(width)
         + "\" height=\"" + coord(h) + "\" viewBox=\"0 0 " + coord(width) + " "
         + coord(h) + "\" role=\"img\"><title>" + html_escape(title)
         + "</title>\n<text class=\"title\" x=\"" + coord(left) + "\" y=\"14\">"
         + html_escape(title) + "</text>\n";
}

std::string text(double x, double y, const std::string& s,
                 const char* anchor = "start") {
  return "<text x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" text-anchor=\""
         + anchor + "\">" + html_escape(s) + "</text>\n";
}

std::string frame() {
  return "<rect class=\"frame\" x=\"" + coord(left) + "\" y=\"" + coord(top)
         + "\" width=\"" + coord(plot_w) + "\" height=\"" + coord(plot_h)
         + "\"/>\n";
}

// A range that shows the data: from 0 (all series here are counts or
// rates), to the largest value, never empty.
double top_of(double hi) {
  return hi > 0 && std::isfinite(hi) ? hi : 1;
}

std::string vmark(const svg_mark& m, double x_hi) {
  auto x = left + plot_w * std::clamp(m.x / x_hi, 0.0, 1.0);
  return "<line class=\"mark " + html_escape(m.css) + "\" x1=\"" + coord(x)
         + "\" y1=\"" + coord(top) + "\" x2=\"" + coord(x) + "\" y2=\""
         + coord(top + plot_h) + "\"><title>" + html_escape(m.label)
         + "</title></line>\n";
}

} // namespace

std::string svg_number(double v) {
  char buf[40];
  if (!std::isfinite(v))
    return "-";
  if (std::fabs(v) >= 1e4 && std::fabs(v) < 1e9)
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  else
    std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

std::string render_svg_plot(const svg_plot& p) {
  double x_hi = 0, y_hi = 0, y2_hi = 0;
  for (auto& l : p.lines)
    for (auto& [x, y] : l.points) {
      x_hi = std::max(x_hi, x);
      (l.right_axis ? y2_hi : y_hi) = std::max(l.right_axis ? y2_hi : y_hi, y);
    }
  for (auto& m : p.marks)
    x_hi = std::max(x_hi, m.x);
  x_hi = top_of(x_hi);
  y_hi = top_of(y_hi);
  y2_hi = p.y2_hi > 0 ? p.y2_hi : top_of(y2_hi);
  auto out = open_svg(p.css, p.title,
                      height + 14 * static_cast<double>(p.lines.size()))
             + frame();
  out += text(left - 4, top + 8, svg_number(y_hi), "end");
  out += text(left - 4, top + plot_h, "0", "end");
  out += text(left, top + plot_h + 14, "0");
  out += text(left + plot_w, top + plot_h + 14, svg_number(x_hi), "end");
  out += text(left + plot_w / 2, top + plot_h + 28, p.x_label, "middle");
  out += text(4, top + plot_h / 2, p.y_label);
  bool second = false;
  size_t n = 0;
  for (auto& l : p.lines) {
    second = second || l.right_axis;
    auto yh = l.right_axis ? y2_hi : y_hi;
    std::string pts;
    for (auto& [x, y] : l.points) {
      if (!pts.empty())
        pts += ' ';
      pts += coord(left + plot_w * x / x_hi) + ","
             + coord(top + plot_h * (1 - std::clamp(y / yh, 0.0, 1.0)));
    }
    out += "<polyline class=\"" + html_escape(l.css) + " l" + std::to_string(n++)
           + "\" data-n=\"" + std::to_string(l.points.size()) + "\" points=\""
           + pts + "\"><title>" + html_escape(l.label) + "</title></polyline>\n";
  }
  if (second) {
    out += text(left + plot_w + 4, top + 8, svg_number(y2_hi));
    out += text(left + plot_w + 4, top + plot_h, "0");
    out += text(width - 2, top + plot_h / 2 + 14, p.y2_label, "end");
  }
  for (auto& m : p.marks) {
    out += vmark(m, x_hi);
    out += text(left + plot_w * std::clamp(m.x / x_hi, 0.0, 1.0) - 3, top + 12,
                m.label, "end");
  }
  // The legend below the plot: a stroke of each line's class, its label.
  double y = height + 2;
  n = 0;
  for (auto& l : p.lines) {
    out += "<line class=\"key " + html_escape(l.css) + " l" + std::to_string(n++)
           + "\" x1=\"" + coord(left) + "\" y1=\"" + coord(y - 4) + "\" x2=\""
           + coord(left + 20) + "\" y2=\"" + coord(y - 4) + "\"/>\n";
    out += text(left + 26, y, l.label);
    y += 14;
  }
  return out + "</svg>\n";
}

std::string render_svg_bars(const svg_bars& b) {
  double v_hi = 0;
  for (auto& bar : b.bars)
    v_hi = std::max(v_hi, bar.value);
  v_hi = top_of(v_hi);
  if (b.horizontal) {
    double row = 18, h = top + row * static_cast<double>(b.bars.size()) + 8;
    double label_w = 150, bar_w = width - label_w - 70;
    auto out = open_svg(b.css, b.title, h);
    double y = top;
    for (auto& bar : b.bars) {
      out += text(label_w - 6, y + 12, bar.label, "end");
      out += "<rect class=\"bar\" data-n=\"" + svg_number(bar.value)
             + "\" x=\"" + coord(label_w) + "\" y=\"" + coord(y + 2)
             + "\" width=\"" + coord(bar_w * bar.value / v_hi)
             + "\" height=\"" + coord(row - 4) + "\"/>\n";
      out += text(label_w + bar_w * bar.value / v_hi + 4, y + 12,
                  svg_number(bar.value));
      y += row;
    }
    return out + "</svg>\n";
  }
  auto x_hi = top_of(b.x_hi);
  auto out = open_svg(b.css, b.title) + frame();
  out += text(left - 4, top + 8, svg_number(v_hi), "end");
  out += text(left - 4, top + plot_h, "0", "end");
  out += text(left, top + plot_h + 14, "0");
  out += text(left + plot_w, top + plot_h + 14, svg_number(x_hi) + "+", "end");
  out += text(left + plot_w / 2, top + plot_h + 28, b.x_label, "middle");
  if (b.bars.empty())
    out += text(left + plot_w / 2, top + plot_h / 2, "no data", "middle");
  for (auto& bar : b.bars) {
    auto x0 = left + plot_w * bar.lo / x_hi, x1 = left + plot_w * bar.hi / x_hi;
    auto h = plot_h * bar.value / v_hi;
    out += "<rect class=\"bar\" data-n=\"" + svg_number(bar.value) + "\" x=\""
           + coord(x0) + "\" y=\"" + coord(top + plot_h - h) + "\" width=\""
           + coord(std::max(x1 - x0 - 1, 1.0)) + "\" height=\"" + coord(h)
           + "\"/>\n";
  }
  for (size_t i = 0; i < b.marks.size(); ++i) {
    auto& m = b.marks[i];
    out += vmark(m, x_hi);
    // Labels stacked, left of the line in the right half so none is cut off.
    auto at = std::clamp(m.x / x_hi, 0.0, 1.0);
    out += text(left + plot_w * at + (at > 0.5 ? -3 : 3),
                top + 12 + 12 * static_cast<double>(i), m.label,
                at > 0.5 ? "end" : "start");
  }
  return out + "</svg>\n";
}

} // namespace evo
