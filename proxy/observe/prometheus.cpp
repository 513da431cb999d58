#include "proxy/observe/prometheus.hpp"

#include <charconv>
#include <cstdint>

namespace trproxy::proxy {

// Whole values (timestamps, gauges) print as integers: to_chars' shortest form would write
// 1900000000 as 1.9e+09, valid for Prometheus but unreadable for the people reading /metrics.
std::string prometheus_number(double value) {
  constexpr double exact_integer_limit = 9007199254740992.0;  // 2^53
  if (value < exact_integer_limit && value > -exact_integer_limit &&
      value == static_cast<double>(static_cast<std::int64_t>(value))) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, end) : "NaN";
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::start(std::string_view name, std::string_view labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::sample(std::string_view name, std::string_view labels, std::uint64_t value) {
  start(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

template <class Value>
void Exposition::single(std::string_view name, std::string_view type, std::string_view help, Value value) {
  family(name, type, help);
  sample(name, "", value);
}
template void Exposition::single(std::string_view, std::string_view, std::string_view, std::uint64_t);
template void Exposition::single(std::string_view, std::string_view, std::string_view, double);

void Exposition::sample(std::string_view name, std::string_view labels, double value) {
  start(name, labels);
  out_ += prometheus_number(value);
  out_ += '\n';
}

std::string label_pair(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace trproxy::proxy
