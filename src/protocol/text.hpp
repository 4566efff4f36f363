// Validation of chat text: UTF-8 well-formedness, the control-character rule and the format
// characters that could disguise a line; and how text is made safe to show.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace udpchat::protocol {

enum class TextCheck { ok, invalid_utf8, control_character, format_character };

// Rejects malformed UTF-8 (overlong forms, surrogates, code points past U+10FFFF, truncated
// sequences) and every C0/C1 control character and DEL except tab: a relayed newline would let
// a sender forge a second `ack` line, and other controls can rewrite a reader's terminal.
// Also rejects the bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and
// the line and paragraph separators (U+2028, U+2029): they make a line read as something else.
TextCheck check_text(std::string_view text) noexcept;

// `text` made safe to show on a terminal: invalid UTF-8 becomes U+FFFD, control characters
// (a legacy server relays anything) are shown as \xNN, and invisible or direction-changing
// characters (bidi controls and marks, separators, zero-width characters, BOM) as <U+XXXX>, so
// that no escape sequence reaches the screen and nothing hides or reorders what is shown.
std::string printable(std::string_view text);

// Leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r) removed.
std::string_view strip(std::string_view datagram) noexcept;

// `text` cut into pieces of at most `max_bytes`: at the last space or tab when it lies in the
// piece's second half (wrapped like prose), else between UTF-8 sequences; each piece stripped,
// pieces that strip to nothing left out. Bytes that are not UTF-8 are cut anywhere.
std::vector<std::string_view> split_text(std::string_view text, std::size_t max_bytes);

}  // namespace udpchat::protocol
