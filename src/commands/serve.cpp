// `udpchat serve`: the relay.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "commands/command.hpp"
#include "core/relay.hpp"
#include "core/units.hpp"
#include "net/address.hpp"
#include "net/log.hpp"
#include "net/metrics.hpp"
#include "net/relay_node.hpp"
#include "net/socket.hpp"
#include "protocol/envelope.hpp"

namespace udpchat::commands {

namespace {

struct ServeOptions {
  std::string bind{net::kDefaultTarget};
  core::Duration hb_timeout = core::kDefaultHbTimeout;
  std::size_t max_clients = 4096;
  bool legacy = false;
  std::string log_format = "text";
  std::string port_file;
  bool quiet = false;
  double rate_limit = 200;  // datagrams per second per source; 0 is off
  double burst = 400;
  double cookie_rate_limit = 10;
  double max_egress = 0;  // bytes per second; 0 is off
  core::Duration stats_interval = std::chrono::seconds(60);
  core::Duration duration{};           // zero: run until a signal
  std::vector<std::string> backplane;  // nats:// URLs; empty: no backplane, no NATS code runs
  std::string node_id;                 // empty: random
  std::string backplane_send = "asap";
  double backplane_buffer = 1 << 20;
  core::Duration max_queue_delay = core::RelayConfig{}.max_queue_delay;
  unsigned threads = 1;  // 0: one per core
  std::string metrics;   // HOST:PORT or PORT (loopback); empty: none
  std::size_t history = core::RelayConfig{}.history_lines;
  double history_memory = static_cast<double>(core::RelayConfig{}.history_total_bytes);
  std::size_t legacy_credit = core::RelayConfig{}.legacy_credit;
};

// 12 characters of [a-z0-9]: unique enough to tell a handful of nodes apart.
std::string random_node_id() {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  std::string id;
  for (int i = 0; i < 12; ++i) id.push_back(kAlphabet[random() % kAlphabet.size()]);
  return id;
}

// "nats://a:4222,nats://b:4222" as well as repeated flags.
std::vector<std::string> split_servers(const std::vector<std::string>& values) {
  std::vector<std::string> servers;
  for (const auto& value : values) {
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto server = rest.substr(0, comma);
      if (!server.empty()) servers.emplace_back(server);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  return servers;
}

// A byte count, or "off" (0).
std::optional<double> parse_bytes_or_off(std::string_view text) {
  if (text == "off") return 0.0;
  return core::parse_bytes(text);
}

// A duration, or "off" (zero).
std::optional<double> parse_delay_or_off(std::string_view text) {
  if (text == "off") return 0.0;
  const auto delay = core::parse_duration(text);
  if (!delay || *delay < std::chrono::milliseconds(1)) return std::nullopt;
  return std::chrono::duration<double>(*delay).count();
}

// A template, so that parsers taking std::string_view (core/units) and const std::string& fit.
template <class Parse>
CLI::Validator parsed_by(Parse parse, std::string example) {
  return CLI::Validator(
      [parse, example](std::string& text) -> std::string {
        if (parse(text)) return {};
        return fmt::format("'{}' is not valid (examples: {})", text, example);
      },
      "");
}

// Written whole or not at all: a script polling for the file never reads half a number.
bool write_port_file(const std::string& path, std::uint16_t port, std::string& error) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out.flush()) {
      error = fmt::format("cannot write port file '{}'", temporary);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) error = fmt::format("cannot write port file '{}': {}", path, ec.message());
  return !ec;
}

int run_serve(const ServeOptions& options) {
  std::string error;
  const auto bind = net::parse_host_port(options.bind, error);
  if (!bind) {
    print_error(fmt::format("--bind {}", error));
    return kExitUsage;
  }

  asio::io_context io(1);
  std::error_code ec;
  net::udp::resolver resolver(io);
  const auto results =
      resolver.resolve(bind->host, std::to_string(bind->port),
                       net::udp::resolver::passive | net::udp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    print_error(fmt::format("cannot resolve bind address '{}': {}", bind->host,
                            ec ? ec.message() : "no address"));
    return kExitUnresolved;
  }
  const net::udp::endpoint local = results.begin()->endpoint();

  const net::Logger log(options.log_format == "json" ? net::LogFormat::json : net::LogFormat::text,
                        options.quiet);
  net::NodeConfig node;
  core::RelayConfig& config = node.relay;
  config.legacy = options.legacy;
  config.hb_timeout = options.hb_timeout;
  config.max_clients = options.max_clients;
  config.format_ip = &net::format_ip;
  config.datagram_limit = {options.rate_limit, options.burst};
  config.cookie_limit = {options.cookie_rate_limit, options.cookie_rate_limit * 2};
  config.max_egress = options.max_egress;
  config.max_queue_delay = options.max_queue_delay;
  config.legacy_credit = options.legacy_credit;
  config.history_lines = options.history;
  config.history_total_bytes = static_cast<std::size_t>(options.history_memory);
  node.threads =
      options.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : options.threads;
  node.stats_interval = options.stats_interval;
  node.duration = options.duration;
  if (!options.backplane.empty()) {
    net::BackplaneConfig& backplane = node.backplane.emplace();
    backplane.servers = split_servers(options.backplane);
    backplane.node_id = options.node_id.empty() ? random_node_id() : options.node_id;
    backplane.send_asap = options.backplane_send == "asap";
    backplane.buffer_bytes = static_cast<int>(options.backplane_buffer);
  }
  if (!options.metrics.empty()) {
    // A bare port stays on loopback: metrics are for the operator, not the world.
    const bool bare = options.metrics.find_first_not_of("0123456789") == std::string::npos;
    node.metrics = bare ? "127.0.0.1:" + options.metrics : options.metrics;
  }
  auto relay = net::RelayNode::bind(io, local, std::move(node), log, error);
  if (!relay) {
    print_error(error);
    return kExitFailure;
  }
  if (!relay->start_metrics(error)) {
    print_error(fmt::format("--metrics: {}", error));
    return kExitFailure;
  }
  // The engine is optional at run time: the node serves its own members while it connects.
  if (!relay->start_backplane(error)) {
    print_error(fmt::format("--backplane: {}", error));
    return kExitFailure;
  }

  log.info("listening", {{"address", net::format_endpoint(relay->local_endpoint())}});
  if (!options.port_file.empty() &&
      !write_port_file(options.port_file, relay->local_endpoint().port(), error)) {
    print_error(error);
    return kExitFailure;
  }
  if (options.legacy) {
    log.warn("legacy mode", {{"note",
                              "open relay: any address joins without a cookie; "
                              "use on trusted networks only"}});
  }
  if (relay->shards() > 1) log.info("shards", {{"threads", relay->shards()}});
  return relay->run() ? kExitOk : kExitFailure;
}

}  // namespace

void add_serve(CLI::App& app, Runner& run) {
  auto options = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the chat relay");
  cmd->footer(
      "Members join with a cookie handshake that proves their address, so the relay cannot be\n"
      "used to reflect traffic at others. --legacy also admits the original protocol's clients\n"
      "(a bare 'reg' or any line joins): an open relay, for trusted networks only.\n"
      "Each source (IPv4 address or IPv6 /64) has a datagram budget and a smaller one for cookie\n"
      "requests; over-budget datagrams are dropped and counted (docs/security.md).\n"
      "A chat line goes to the members of its sender's room (lobby unless the join named one).\n"
      "--backplane shares rooms with other nodes through a NATS engine; the node serves its own\n"
      "members whether or not the engine is up, and reconnects by itself (docs/scale-out.md).\n"
      "SIGINT, SIGTERM, SIGHUP (Ctrl-C on Windows) or the end of --duration sends 'end' to every\n"
      "member and exits 0. Under overload, chat lines older than --max-queue-delay are dropped\n"
      "(counted as stale) so that fresh lines get through.\n"
      "Logs go to stderr (--log-format json: one JSON object per line); scripts learn the port\n"
      "from --port-file.\n"
      "Exit codes: 0 clean shutdown, 1 bind or runtime failure, 2 usage error,\n"
      "4 bind address does not resolve.\n"
      "Examples:\n"
      "  udpchat serve --bind [::]:9998 --log-format json\n"
      "  udpchat serve --bind 127.0.0.1:0 --port-file /run/udpchat.port --duration 10m\n"
      "  udpchat serve --threads auto --backplane nats://10.0.0.5:4222 --node-id eu1");
  cmd->add_option("--bind", options->bind,
                  "Address to listen on, ADDR:PORT; [::]:PORT for dual stack, port 0 for any")
      ->capture_default_str()
      ->type_name("ADDR:PORT");
  add_duration(*cmd, "--hb-timeout", options->hb_timeout,
               "Expire members silent for longer than this",
               {core::kMinHbTimeout, core::Duration::max(),
                "shorter would expire members whose heartbeats are merely late"});
  add_count(*cmd, "--max-clients", options->max_clients, 1, 10'000'000,
            "Most members at once; joins beyond are answered 'full'");
  cmd->add_flag("--legacy", options->legacy,
                "Original open semantics: any datagram joins (trusted networks only)");
  cmd->add_option("--log-format", options->log_format, "Log lines on stderr as text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}))
      ->type_name("FORMAT");
  cmd->add_option("--port-file", options->port_file,
                  "Write the bound port to this file once listening")
      ->type_name("FILE");
  add_quiet(*cmd, options->quiet, "warnings stay");
  cmd->add_option_function<std::string>(
         "--rate-limit",
         [options](const std::string& text) { options->rate_limit = *core::parse_rate(text); },
         "Datagrams per second from one source (IPv4 address or IPv6 /64), or off")
      ->default_str("200/s")
      ->type_name("N/s")
      ->check(parsed_by(&core::parse_rate, "200/s, 1000, off"));
  add_number(*cmd, "--burst", options->burst, 1, 1e9,
             "Datagrams a source may send at once above its rate");
  cmd->add_option_function<std::string>(
         "--cookie-rate-limit",
         [options](const std::string& text) {
           options->cookie_rate_limit = *core::parse_rate(text);
         },
         "Cookie requests (padded reg) per second from one source, or off")
      ->default_str("10/s")
      ->type_name("N/s")
      ->check(parsed_by(&core::parse_rate, "10/s, off"));
  cmd->add_option_function<std::string>(
         "--max-egress",
         [options](const std::string& text) { options->max_egress = *core::parse_byte_rate(text); },
         "Bytes per second of fan-out for all members together (K, M, G suffixes), or off")
      ->default_str("off")
      ->type_name("BYTES/s")
      ->check(parsed_by(&core::parse_byte_rate, "500K, 10M, 1G, off"));
  cmd->add_option_function<std::string>(
         "--threads",
         [options](const std::string& text) {
           options->threads = text == "auto" ? 0 : static_cast<unsigned>(std::stoul(text));
         },
         "Shards serving one address, each on its own core (Linux; auto: one per core)")
      ->default_str("1")
      ->type_name("N|auto")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (text == "auto") return {};
            unsigned value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec == std::errc{} && end == text.data() + text.size() && value >= 1 &&
                value <= 256) {
              return {};
            }
            return fmt::format("'{}' is not a number of threads (1 to 256, or auto)", text);
          },
          ""));
  add_count(*cmd, "--history", options->history, 0, 1'000'000,
            "Lines each room keeps to repair and replay for members that number theirs (+r1); "
            "0: no numbering, no repair");
  cmd->add_option_function<std::string>(
         "--history-memory",
         [options](const std::string& text) { options->history_memory = *core::parse_bytes(text); },
         "Bytes all rooms' history may hold together (each room at most 256K); beyond, the room "
         "adding a line forgets its oldest")
      ->default_str("64M")
      ->type_name("BYTES")
      ->check(parsed_by(&core::parse_bytes, "64M, 512M"));
  cmd->add_option("--metrics", options->metrics,
                  "Serve Prometheus metrics at http://HOST:PORT/metrics (a bare PORT: on "
                  "127.0.0.1); off by default")
      ->type_name("HOST:PORT|PORT")
      ->check([](const std::string& value) -> std::string {
        if (!net::metrics_available()) return "this udpchat was built without metrics";
        if (value.find_first_not_of("0123456789") == std::string::npos) {
          return value.empty() || value.size() > 5 || std::stoul(value) > 65535
                     ? "a port is 0 to 65535"
                     : "";
        }
        std::string error;
        return net::parse_host_port(value, error) ? "" : error;
      });
  add_duration(*cmd, "--stats-interval", options->stats_interval,
               "How often to log traffic and drop counters (only when they changed)");
  add_duration(*cmd, "--duration", options->duration,
               "Shut down cleanly after this long, as on SIGTERM (default: run until a signal)")
      ->default_str("");
  cmd->add_option("--backplane", options->backplane,
                  "Share rooms with other serve nodes through NATS: nats://HOST:PORT[,nats://...]")
      ->type_name("URLS")
      ->check([](const std::string& value) -> std::string {
        // nats.c takes almost anything and would retry a typo forever: check the shape here.
        for (const auto& server : split_servers({value})) {
          std::string error;
          std::string_view rest = server;
          const bool scheme = rest.starts_with("nats://");
          if (scheme) rest.remove_prefix(7);
          if (const auto at = rest.rfind('@'); at != std::string_view::npos)
            rest.remove_prefix(at + 1);
          const auto target = net::parse_host_port(rest, error);
          if (!scheme || !target || target->port == 0 ||
              rest.find_first_of(" \t/") != std::string_view::npos) {
            return fmt::format("'{}' is not a nats://[USER:PASSWORD@]HOST:PORT URL", server);
          }
        }
        return {};
      });
  cmd->add_option("--node-id", options->node_id,
                  "This node's name on the backplane, 1 to 32 of [A-Za-z0-9_-] (default: random)")
      ->type_name("NAME")
      ->check([](const std::string& value) -> std::string {
        return protocol::is_node_id(value) ? "" : "must be 1 to 32 of [A-Za-z0-9_-]";
      });
  cmd->add_option("--backplane-send", options->backplane_send,
                  "asap: write each line to the engine at once; batched: let nats.c's flusher "
                  "gather them (about 1 ms later)")
      ->capture_default_str()
      ->check(CLI::IsMember({"asap", "batched"}))
      ->type_name("MODE");
  cmd->add_option_function<std::string>(
         "--max-queue-delay",
         [options](const std::string& text) {
           options->max_queue_delay = std::chrono::duration_cast<core::Duration>(
               std::chrono::duration<double>(*parse_delay_or_off(text)));
         },
         "Drop a chat line that waited longer than this between the kernel and the relay "
         "(counted as stale), so an overloaded relay serves fresh lines; off keeps every line")
      ->default_str(core::format_duration(options->max_queue_delay))
      ->type_name("DURATION")
      ->check(parsed_by(&parse_delay_or_off, "100ms, 1s, off"));
  cmd->add_option_function<std::string>(
         "--legacy-credit",
         [options](const std::string& text) {
           options->legacy_credit = static_cast<std::size_t>(*parse_bytes_or_off(text));
         },
         "With --legacy: bytes sent to a member admitted without a cookie since it last sent "
         "anything, at most (its heartbeat renews it); off: no cap")
      ->default_str(std::to_string(options->legacy_credit))
      ->type_name("BYTES")
      ->check(parsed_by(&parse_bytes_or_off, "64K, 1M, off"));
  cmd->add_option_function<std::string>(
         "--backplane-buffer",
         [options](const std::string& text) {
           options->backplane_buffer = *core::parse_bytes(text);
         },
         "Bytes of lines held while the engine is away; beyond, lines are dropped and counted")
      ->default_str("1M")
      ->type_name("BYTES")
      ->check(parsed_by(&core::parse_bytes, "1M, 256K"));
  cmd->callback([options, &run] { run = [options] { return run_serve(*options); }; });
}

}  // namespace udpchat::commands
