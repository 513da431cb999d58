// Command-line parsing (DESIGN.md, "Command line"): the ca subcommands and their bounds.

#include "proxy/app/cli.hpp"

#include <catch2/catch.hpp>

using namespace trproxy::proxy;

namespace {

Command parsed(const std::vector<std::string>& args) {
  auto result = parse_command_line(args);
  if (const auto* error = std::get_if<CliError>(&result)) FAIL(error->message);
  return std::get<Command>(result);
}

std::string error_of(const std::vector<std::string>& args) {
  const auto result = parse_command_line(args);
  const auto* error = std::get_if<CliError>(&result);
  return error ? error->message : "(no error)";
}

}  // namespace

TEST_CASE("ca init takes --dir and optional --config, --days and --cn in any order") {
  const auto plain = parsed({"ca", "init", "--dir", "certs"});
  CHECK(plain.kind == Command::Kind::ca_init);
  CHECK(plain.ca_init.dir == "certs");
  CHECK(plain.ca_init.config_path.empty());
  CHECK(plain.ca_init.days == 3650);
  CHECK(plain.ca_init.common_name.empty());

  const auto full = parsed({"ca", "init", "--cn", "Contoso egress CA", "--days=825", "--config", "t.yaml", "--dir=d"});
  CHECK(full.ca_init.dir == "d");
  CHECK(full.ca_init.config_path == "t.yaml");
  CHECK(full.ca_init.days == 825);
  CHECK(full.ca_init.common_name == "Contoso egress CA");
  CHECK(parsed({"ca", "init", "--dir", "d", "--days", "36500"}).ca_init.days == 36500);
  CHECK(parsed({"ca", "init", "--dir", "d", "--days", "1"}).ca_init.days == 1);
  CHECK(plain.ca_init.key_group.empty());
  CHECK(parsed({"ca", "init", "--group", "10001", "--dir", "d"}).ca_init.key_group == "10001");
  CHECK(parsed({"ca", "init", "--dir", "d", "--group=trproxy"}).ca_init.key_group == "trproxy");
  CHECK_THAT(error_of({"ca", "init", "--dir", "d", "--group"}), Catch::Contains("--group needs a value"));
}

TEST_CASE("ca usage errors are one line") {
  CHECK_THAT(error_of({"ca", "init"}), Catch::StartsWith("usage: trproxy ca init --dir DIR"));
  CHECK_THAT(error_of({"ca", "init", "--dir"}), Catch::Contains("--dir needs a value"));
  CHECK_THAT(error_of({"ca", "init", "--dir", "d", "--days", "0"}), Catch::Contains("1..36500"));
  CHECK_THAT(error_of({"ca", "init", "--dir", "d", "--days", "36501"}), Catch::Contains("1..36500"));
  CHECK_THAT(error_of({"ca", "init", "--dir", "d", "--days", "-5"}), Catch::Contains("1..36500"));
  CHECK_THAT(error_of({"ca", "init", "--dir", "d", "--days", "10y"}), Catch::Contains("1..36500"));
  CHECK_THAT(error_of({"ca", "init", "--dir", "d", "--bogus", "x"}), Catch::Contains("unknown argument '--bogus'"));
  CHECK_THAT(error_of({"ca", "show"}), Catch::StartsWith("usage: trproxy ca show FILE"));
  CHECK_THAT(error_of({"ca", "show", "a", "b"}), Catch::StartsWith("usage: trproxy ca show FILE"));
  CHECK_THAT(error_of({"ca"}), Catch::Contains("ca show FILE"));
  for (const auto& args : std::vector<std::vector<std::string>>{{"ca", "init"}, {"ca", "show"}, {"ca", "frob"}}) {
    CHECK(error_of(args).find('\n') == std::string::npos);
  }
}

TEST_CASE("ca show takes one file") {
  const auto show = parsed({"ca", "show", "certs/ca.crt"});
  CHECK(show.kind == Command::Kind::ca_show);
  CHECK(show.ca_show_file == "certs/ca.crt");
}

TEST_CASE("--help names every command") {
  const auto text = usage_text();
  for (const char* command : {"--check", "ca init --dir DIR [--config FILE] [--days N] [--cn NAME] [--group GROUP]",
                              "ca show FILE", "--version"}) {
    CHECK_THAT(text, Catch::Contains(command));
  }
}

TEST_CASE("probe takes one http:// URL and an optional --timeout") {
  const auto plain = parsed({"probe", "http://127.0.0.1:9090/readyz"});
  CHECK(plain.kind == Command::Kind::probe);
  CHECK(plain.probe_url == "http://127.0.0.1:9090/readyz");
  CHECK(plain.probe_timeout_seconds == 5);
  CHECK(parsed({"probe", "--timeout", "30", "http://[::1]:9090/healthz"}).probe_timeout_seconds == 30);
  CHECK_THAT(error_of({"probe"}), Catch::StartsWith("usage: trproxy probe"));
  CHECK_THAT(error_of({"probe", "https://127.0.0.1:9090/"}), Catch::Contains("is not http://"));
  CHECK_THAT(error_of({"probe", "http://a/", "http://b/"}), Catch::Contains("one URL"));
  CHECK_THAT(error_of({"probe", "http://a/", "--timeout", "0"}), Catch::Contains("from 1 to 300"));
  CHECK_THAT(error_of({"probe", "http://a/", "--timeout", "x"}), Catch::Contains("from 1 to 300"));
  CHECK_THAT(error_of({"probe", "http://a/", "--timeout"}), Catch::Contains("needs SECONDS"));
  CHECK_THAT(error_of({"probe", "http://a/", "--insecure"}), Catch::Contains("unknown argument"));
}
