// `udpchat serve`: the relay.
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "commands/command.hpp"
#include "core/relay.hpp"
#include "core/room_gate.hpp"
#include "core/units.hpp"
#include "net/address.hpp"
#include "net/key_store.hpp"
#include "net/log.hpp"
#include "net/metrics.hpp"
#include "net/relay_node.hpp"
#include "net/socket.hpp"
#include "protocol/envelope.hpp"
#include "protocol/noise.hpp"
#include "protocol/sealed.hpp"

namespace udpchat::commands {

namespace {

// What the relay, the node and the backplane run with are their own configs: their defaults
// are the options' defaults, written once.
struct ServeOptions {
  std::string bind{net::kDefaultTarget};
  std::string log_format = "text";
  std::string port_file;
  std::string key_file;    // empty: net::default_key_path()
  std::string rooms_file;  // empty: every room is open until a member proves a key
  bool show_key = false;
  bool quiet = false;
  net::NodeConfig node;                     // threads 0: one per core
  std::vector<std::string> backplane_urls;  // nats:// URLs; empty: no backplane, no NATS code runs
  net::BackplaneConfig backplane;           // servers and node id are filled in at start
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

// Written whole or not at all: a script polling for the file never reads half a number.
bool write_port_file(const std::string& path, std::uint16_t port, std::string& error) {
  const std::string temporary = path + ".tmp";
  {
    errno = 0;
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out.flush()) {
      const int why = errno;
      error = fmt::format("cannot write port file '{}': {}", path,
                          why != 0 ? std::generic_category().message(why) : "write failed");
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) error = fmt::format("cannot write port file '{}': {}", path, ec.message());
  return !ec;
}

// The relay's identity, from its file or made there on first start: a restart keeps it, so no
// client's pin ever trips on one.
std::optional<protocol::noise::KeyPair> relay_key(const ServeOptions& options, std::string& path,
                                                  bool& created, std::string& error) {
  path = options.key_file.empty() ? net::default_key_path() : options.key_file;
  if (path.empty()) {
    error = "no place to keep the relay's key (HOME and XDG_STATE_HOME are unset): give --key-file";
    return std::nullopt;
  }
  auto keys = net::load_or_create_key(path, created, error);
  if (!keys) error = "--key-file: " + error;
  return keys;
}

// `--rooms FILE`: the rooms the operator made private (core/room_gate.hpp).
std::shared_ptr<const core::RoomPins> room_pins(const std::string& path, std::string& error) {
  std::ifstream in(path);
  std::stringstream text;
  if (!(in && text << in.rdbuf())) {
    error = fmt::format("--rooms {}: cannot read it", path);
    return nullptr;
  }
  core::RoomPinsParsed parsed = core::parse_room_pins(text.str());
  if (!parsed.error.empty()) {
    error = fmt::format("--rooms {}: {}", path, parsed.error);
    return nullptr;
  }
  return std::make_shared<const core::RoomPins>(std::move(parsed.pins));
}

int run_serve(const ServeOptions& options) {
  std::string error;
  std::shared_ptr<const core::RoomPins> rooms;
  if (!options.rooms_file.empty() && !(rooms = room_pins(options.rooms_file, error))) {
    print_error(error);
    return kExitUsage;
  }
  std::string key_path;
  bool key_created = false;
  auto key = relay_key(options, key_path, key_created, error);
  if (!key) {
    print_error(error);
    return kExitFailure;
  }
  if (options.show_key) {
    fmt::print("{}\n", protocol::sealed::format_key(key->public_key));
    return kExitOk;
  }
  const auto bind = net::parse_bind(options.bind, error);
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
  net::NodeConfig node = options.node;
  node.relay.format_ip = &net::format_ip;
  node.relay.rooms = std::move(rooms);
  const std::string public_key = protocol::sealed::format_key(key->public_key);
  node.relay.identity = std::make_shared<const protocol::noise::KeyPair>(std::move(*key));
  // A burst of twice the rate: clients that retry a lost cookie request are not refused.
  node.relay.cookie_limit.burst = node.relay.cookie_limit.rate * 2;
  if (node.threads == 0) node.threads = std::max(1u, std::thread::hardware_concurrency());
  if (!options.backplane_urls.empty()) {
    net::BackplaneConfig& backplane = node.backplane.emplace(options.backplane);
    backplane.servers = split_servers(options.backplane_urls);
    if (backplane.node_id.empty()) backplane.node_id = random_node_id();
  }
  // A bare port stays on loopback: metrics are for the operator, not the world.
  if (!node.metrics.empty() && node.metrics.find_first_not_of("0123456789") == std::string::npos) {
    node.metrics = "127.0.0.1:" + node.metrics;
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

  // Before "listening": a node that cannot tell its port never says it is serving.
  if (!options.port_file.empty() &&
      !write_port_file(options.port_file, relay->local_endpoint().port(), error)) {
    print_error(error);
    return kExitFailure;
  }
  log.info("listening", {{"address", net::format_endpoint(relay->local_endpoint())}});
  log.info(key_created ? "key created" : "key", {{"public", public_key}, {"file", key_path}});
  if (options.node.relay.legacy) {
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
      "udpchat's own clients seal every datagram (Noise NK; the relay's key is --key-file,\n"
      "created on first start; clients pin it). The original protocol is plaintext: anyone on\n"
      "the path reads its lines and can forge them (docs/security.md).\n"
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
                  "Address to listen on, ADDR:PORT; :PORT or [::]:PORT for every address (IPv4 "
                  "and IPv6), port 0 for any")
      ->capture_default_str()
      ->type_name("ADDR:PORT");
  core::RelayConfig& relay = options->node.relay;
  add_duration(*cmd, "--hb-timeout", relay.hb_timeout, "Expire members silent for longer than this",
               {core::kMinHbTimeout, core::Duration::max(),
                "shorter would expire members whose heartbeats are merely late"});
  add_count(*cmd, "--max-clients", relay.max_clients, 1, 10'000'000,
            "Most members at once; joins beyond are answered 'full'");
  cmd->add_flag(
      "--legacy", relay.legacy,
      "Original open semantics: any datagram joins, in plaintext (trusted networks only)");
  cmd->add_option("--log-format", options->log_format, "Log lines on stderr as text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}))
      ->type_name("FORMAT");
  cmd->add_option("--port-file", options->port_file,
                  "Write the bound port to this file once listening")
      ->type_name("FILE");
  cmd->add_option("--key-file", options->key_file,
                  "The relay's secret key, created (mode 0600) if missing; its public half is what "
                  "clients pin [default: $STATE_DIRECTORY/relay.key, else "
                  "~/.local/state/udpchat/relay.key]")
      ->type_name("FILE");
  cmd->add_option("--rooms", options->rooms_file,
                  "Private rooms, one a line: '<room> private' (to the key its first member "
                  "proves) or '<room> <verifier>' (udpchat keygen --verifier prints it)")
      ->type_name("FILE");
  cmd->add_flag("--show-key", options->show_key,
                "Print the relay's public key (what clients pin) and exit");
  add_quiet(*cmd, options->quiet, "warnings stay");
  add_value(*cmd, "--rate-limit", relay.datagram_limit.rate, kRate,
            "Datagrams per second from one source (IPv4 address or IPv6 /64), or off");
  add_number(*cmd, "--burst", relay.datagram_limit.burst, 1, 1e9,
             "Datagrams a source may send at once above its rate");
  add_value(*cmd, "--cookie-rate-limit", relay.cookie_limit.rate, kRate,
            "Cookie requests (padded reg) per second from one source, or off");
  add_value(*cmd, "--max-egress", relay.max_egress, kByteRate,
            "Bytes per second of fan-out for all members together (K, M, G suffixes), or off");
  cmd->add_option_function<std::string>(
         "--threads",
         [options](const std::string& text) {
           options->node.threads = text == "auto" ? 0 : std::stoul(text);
         },
         "Shards serving one address, each on its own core (Linux; auto: one per core)")
      ->default_str(std::to_string(options->node.threads))
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
  add_count(*cmd, "--history", relay.history_lines, 0, 1'000'000,
            "Lines each room keeps to repair and replay for members that number theirs (+r1); "
            "0: no numbering, no repair");
  add_value(*cmd, "--history-memory", relay.history_total_bytes, kBytes,
            fmt::format("Bytes all rooms' history may hold together (each room at most {}); "
                        "beyond, the room holding the most forgets its oldest line, so a room "
                        "within its share (this over the rooms holding lines) keeps all",
                        core::format_bytes(static_cast<double>(relay.history_room_bytes))));
  add_duration(
      *cmd, "--history-ttl", relay.history_ttl,
      "How long a room keeps its history after its last member leaves, so that a post "
      "can be read later (chat --history); off: forgotten with the room",
      {.min = core::Duration::zero(), .below = core::Duration::max(), .why = {}, .off = true});
  cmd->add_option("--metrics", options->node.metrics,
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
        return net::parse_bind(value, error) ? "" : error;
      });
  add_duration(*cmd, "--stats-interval", options->node.stats_interval,
               "How often to log traffic and drop counters (only when they changed)");
  add_duration(*cmd, "--duration", options->node.duration,
               "Shut down cleanly after this long, as on SIGTERM (default: run until a signal)")
      ->default_str("");
  cmd->add_option("--backplane", options->backplane_urls,
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
  cmd->add_option("--node-id", options->backplane.node_id,
                  "This node's name on the backplane, 1 to 32 of [A-Za-z0-9_-] (default: random)")
      ->type_name("NAME")
      ->check([](const std::string& value) -> std::string {
        return protocol::is_node_id(value) ? "" : "must be 1 to 32 of [A-Za-z0-9_-]";
      });
  cmd->add_option_function<std::string>(
         "--backplane-send",
         [options](const std::string& text) { options->backplane.send_asap = text == "asap"; },
         "asap: write each line to the engine at once; batched: let nats.c's flusher "
         "gather them (about 1 ms later)")
      ->default_str(options->backplane.send_asap ? "asap" : "batched")
      ->check(CLI::IsMember({"asap", "batched"}))
      ->type_name("MODE");
  add_duration(*cmd, "--max-queue-delay", relay.max_queue_delay,
               "Drop a chat line that waited longer than this between the kernel and the relay "
               "(counted as stale), so an overloaded relay serves fresh lines; off keeps every "
               "line",
               {.min = std::chrono::milliseconds(1),
                .below = core::Duration::max(),
                .why = {},
                .off = true});
  add_value(*cmd, "--legacy-credit", relay.legacy_credit, kBytesOrOff,
            "With --legacy: bytes sent to a member admitted without a cookie since it last sent "
            "anything, at most (its heartbeat renews it); off: no cap");
  add_value(*cmd, "--backplane-buffer", options->backplane.buffer_bytes, kBytes,
            "Bytes of lines held while the engine is away; beyond, lines are dropped and counted");
  cmd->callback([options, &run] { run = [options] { return run_serve(*options); }; });
}

}  // namespace udpchat::commands
