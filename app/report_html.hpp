// report.html: the run's report.json drawn as one self-contained page
// (inline SVG and CSS, no script, nothing fetched). Plain code, no CAF.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace evo {

/// Text made inert in HTML (element content and quoted attributes).
std::string html_escape(std::string_view text);

/// The page for a report document (what render_json writes). Keys it does
/// not find (an older report, counts not computed) leave their section
/// saying so instead of failing.
std::string render_report_html(const nlohmann::json& report);

} // namespace evo
