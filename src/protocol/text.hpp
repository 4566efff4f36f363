// Validation of chat text: UTF-8 well-formedness and the control-character rule.
#pragma once

#include <string>
#include <string_view>

namespace udpchat::protocol {

enum class TextCheck { ok, invalid_utf8, control_character };

// Rejects malformed UTF-8 (overlong forms, surrogates, code points past U+10FFFF, truncated
// sequences) and every C0/C1 control character and DEL except tab: a relayed newline would let
// a sender forge a second `ack` line, and other controls can rewrite a reader's terminal.
TextCheck check_text(std::string_view text) noexcept;

// `text` made safe to show on a terminal: invalid UTF-8 becomes U+FFFD and control characters
// (a legacy server relays anything) are shown as \xNN, so no escape sequence reaches the screen.
std::string printable(std::string_view text);

// Leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r) removed.
std::string_view strip(std::string_view datagram) noexcept;

}  // namespace udpchat::protocol
