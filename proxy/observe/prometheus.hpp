#pragma once
// The Prometheus text exposition format (version 0.0.4): families with HELP and TYPE, samples
// with escaped label values, numbers as people read them. Knows no metric of the proxy's.

#include <string>
#include <string_view>

namespace trproxy::proxy {

// Writes the Prometheus text format: a family's HELP and TYPE, then its samples.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help);
  // labels: `key="value"` pairs already joined (label_pair escapes a value).
  void sample(std::string_view name, std::string_view labels, std::uint64_t value);
  void sample(std::string_view name, std::string_view labels, double value);
  // A family of one unlabelled sample (std::uint64_t or double).
  template <class Value>
  void single(std::string_view name, std::string_view type, std::string_view help, Value value);
  [[nodiscard]] std::string take() && { return std::move(out_); }

 private:
  void start(std::string_view name, std::string_view labels);
  std::string out_;
};
std::string label_pair(std::string_view key, std::string_view value);

// Whole values (timestamps, gauges) as integers, others in their shortest exact form.
std::string prometheus_number(double value);

}  // namespace trproxy::proxy
