// `udpchat serve`: the relay.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "commands/command.hpp"
#include "net/address.hpp"
#include "net/log.hpp"
#include "net/relay_server.hpp"
#include "net/socket.hpp"

namespace udpchat::commands {

namespace {

constexpr int kSocketBufferBytes = 4 << 20;

struct ServeOptions {
  std::string bind{net::kDefaultTarget};
  core::Duration hb_timeout = std::chrono::seconds(10);
  std::size_t max_clients = 4096;
  bool legacy = false;
  std::string log_format = "text";
  std::string port_file;
  bool quiet = false;
};

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
  net::udp::socket socket = net::bind_socket(io.get_executor(), local, ec);
  if (ec) {
    print_error(fmt::format("cannot bind {}: {}", net::format_endpoint(local), ec.message()));
    return kExitFailure;
  }

  const net::Logger log(options.log_format == "json" ? net::LogFormat::json : net::LogFormat::text,
                        options.quiet);
  // Big buffers absorb bursts: a full receive buffer drops lines before the relay sees them.
  const net::BufferSizes buffers = net::set_buffer_sizes(socket, kSocketBufferBytes);
  log.info("socket buffers", {{"receive", buffers.receive}, {"send", buffers.send}});
  core::RelayConfig config;
  config.legacy = options.legacy;
  config.hb_timeout = options.hb_timeout;
  config.max_clients = options.max_clients;
  config.format_ip = &net::format_ip;
  net::RelayServer server(io, std::move(socket), config, log);

  // Scripts wait for this line (or the port file) before they send anything.
  fmt::print("listening on {}\n", net::format_endpoint(server.local_endpoint()));
  std::fflush(stdout);
  if (!options.port_file.empty() &&
      !write_port_file(options.port_file, server.local_endpoint().port(), error)) {
    print_error(error);
    return kExitFailure;
  }
  if (options.legacy) {
    log.warn("legacy mode", {{"note", "open relay: any address joins without a cookie; "
                                      "use on trusted networks only"}});
  }

  server.start();
  io.run();
  return server.failed() ? kExitFailure : kExitOk;
}

}  // namespace

void add_serve(CLI::App& app, Runner& run) {
  auto options = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the chat relay");
  cmd->footer(
      "Members join with a cookie handshake that proves their address, so the relay cannot be\n"
      "used to reflect traffic at others. --legacy also admits the original protocol's clients\n"
      "(a bare 'reg' or any line joins): an open relay, for trusted networks only.\n"
      "SIGINT or SIGTERM sends 'end' to every member and exits 0.\n"
      "Exit codes: 0 clean shutdown, 1 bind or runtime failure, 2 usage error,\n"
      "4 bind address does not resolve.");
  cmd->add_option("--bind", options->bind,
                  "Address to listen on, ADDR:PORT; [::]:PORT for dual stack, port 0 for any")
      ->capture_default_str();
  add_duration(*cmd, "--hb-timeout", options->hb_timeout,
               "Expire members silent for longer than this");
  cmd->add_option("--max-clients", options->max_clients, "Most members at once; joins beyond are dropped")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  cmd->add_flag("--legacy", options->legacy,
                "Original open semantics: any datagram joins (trusted networks only)");
  cmd->add_option("--log-format", options->log_format, "Log lines on stderr as text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--port-file", options->port_file,
                  "Write the bound port to this file once listening");
  cmd->add_flag("-q,--quiet", options->quiet, "Log only warnings");
  cmd->callback([options, &run] { run = [options] { return run_serve(*options); }; });
}

}  // namespace udpchat::commands
