#include "net/node_figures.hpp"

#include <string>

namespace udpchat::net {

nlohmann::ordered_json log_fields(const NodeFigures& f) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  const auto said = [&](Shown shown, std::uint64_t value) {
    switch (shown) {
      case Shown::always:
        return true;
      case Shown::with_backplane:
        return f.backplane != 0;
      case Shown::when_many:
        return value > 1;
    }
    return true;
  };
  for (const auto& figure : kNodeFigures) {
    const std::uint64_t value = f.*figure.field;
    if (said(figure.shown, value)) fields[std::string(figure.name)] = value;
  }
  for (const auto& counter : core::kRelayCounters) {
    const std::uint64_t value = f.relay.*counter.field;
    if (counter.logged_when_zero || value != 0) fields[std::string(counter.name)] = value;
  }
  fields["dropped"] = f.relay.dropped();
  for (const auto& reason : core::kDropReasons) {
    const std::uint64_t count = f.relay.drops[static_cast<std::size_t>(reason.reason)];
    if (count != 0) fields[std::string(reason.name)] = count;
  }
  return fields;
}

}  // namespace udpchat::net
