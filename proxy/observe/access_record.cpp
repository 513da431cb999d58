#include "proxy/observe/access_record.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <utility>

namespace trproxy::proxy {
namespace {

bool is_control(unsigned char u) {
  return u < 0x20 || u == 0x7f;
}

// The escapes a quoted value uses in both formats.
void append_escaped(std::string& out, std::string_view value) {
  static constexpr char hex[] = "0123456789abcdef";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (is_control(u) || u >= 0x80) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
}

// Writes `key=value` pairs or `"key":value` members: one writer, two syntaxes, so the two
// formats cannot drift apart.
class LineWriter {
 public:
  // A line is a few hundred bytes: one allocation for it, values appended in place.
  static constexpr std::size_t typical_line = 512;
  explicit LineWriter(config::LogFormat format) : json_(format == config::LogFormat::json) {
    line_.reserve(typical_line);
    if (json_) line_ += '{';
  }
  void text(std::string_view key, std::string_view value) {
    start(key);
    if (json_) {
      append_json_literal(line_, value);
    } else {
      append_logfmt_value(line_, value);
    }
  }
  void optional_text(std::string_view key, std::string_view value) {
    if (!value.empty()) text(key, value);
  }
  void number(std::string_view key, std::string_view digits) {
    start(key);
    line_ += digits;
  }
  std::string finish() && {
    if (json_) line_ += '}';
    return std::move(line_);
  }

 private:
  void start(std::string_view key) {
    if (!first_) line_ += json_ ? "," : " ";
    first_ = false;
    if (json_) {
      line_ += '"';
      line_ += key;
      line_ += "\":";
    } else {
      line_ += key;
      line_ += '=';
    }
  }
  bool json_;
  bool first_ = true;
  std::string line_;
};

}  // namespace

std::string_view loggable_path(std::string_view target) {
  if (const auto scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
    const auto path = target.find('/', scheme + 3);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  return target.substr(0, target.find_first_of("?#"));
}

void append_logfmt_value(std::string& out, std::string_view value) {
  const bool bare = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == ' ' || c == '"' || c == '=' || is_control(u) || u >= 0x80;
  });
  if (bare) {
    out += value;
    return;
  }
  append_json_literal(out, value);  // a quoted logfmt value uses the JSON escapes
}

void append_json_literal(std::string& out, std::string_view value) {
  out += '"';
  append_escaped(out, value);
  out += '"';
}

std::string logfmt_value(std::string_view value) {
  std::string out;
  append_logfmt_value(out, value);
  return out;
}

std::string json_string(std::string_view value) {
  std::string out;
  append_json_literal(out, value);
  return out;
}

std::string log_timestamp(std::chrono::system_clock::time_point when) {
  const auto since_epoch = when.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[80];  // room for any int the format could print (GCC checks the worst case)
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return text;
}

std::string format_access_line(const RequestLog& r, std::string_view client, std::string_view time,
                               std::chrono::steady_clock::duration duration, config::LogFormat format, Entry entry) {
  const auto or_dash = [](std::string_view value) { return value.empty() ? std::string_view("-") : value; };
  const auto path = r.target.empty() ? std::string_view{} : loggable_path(r.target);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(micros) / 1000.0);

  LineWriter w(format);
  w.text("time", time);
  w.text("client", or_dash(client));
  w.text("action", policy::to_string(r.action));
  w.text("method", or_dash(r.method));
  w.text("host", or_dash(r.host));
  w.text("path", or_dash(path));
  if (r.status != 0) w.number("status", std::to_string(r.status));
  w.number("bytes_in", std::to_string(r.bytes_in));
  w.number("bytes_out", std::to_string(r.bytes_out));
  w.number("duration_ms", ms);
  w.text("entry", entry == Entry::transparent ? "transparent" : "proxy");
  w.optional_text("sni", r.sni);
  w.optional_text("upstream", r.upstream);
  w.optional_text("tls", r.tls);
  w.optional_text("profile", r.profile);
  w.optional_text("enforcement", r.enforcement);
  w.optional_text("app", r.app);
  w.optional_text("tenant", r.tenant);
  w.optional_text("outcome", r.outcome);
  w.optional_text("reason", r.reason);
  return std::move(w).finish();
}

}  // namespace trproxy::proxy
