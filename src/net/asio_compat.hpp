// One place that knows which Asio names moved between releases (1.22 in Debian bookworm; newer
// from Homebrew, vcpkg or FetchContent).
#pragma once

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#if ASIO_VERSION >= 102400
namespace udpchat::net::compat {
using asio::as_tuple;
}
#else
#include <asio/experimental/as_tuple.hpp>
namespace udpchat::net::compat {
using asio::experimental::as_tuple;
}
#endif

namespace udpchat::net {

// Completion token that reports errors as values (a tuple starting with error_code) instead of
// throwing: expected network conditions are error codes.
inline constexpr auto use_nothrow = compat::as_tuple(asio::use_awaitable);

using asio::awaitable;
using asio::ip::udp;

}  // namespace udpchat::net
