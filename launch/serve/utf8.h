#pragma once
// UTF-8 validation as RFC 3629 defines it (the same rules nlohmann-json's
// parser applies): no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF, no truncated sequences.

#include <cstddef>
#include <optional>
#include <string_view>

namespace autoglm::launch::serve {

// Length (1..4) of the well-formed UTF-8 sequence that starts at `pos`, or 0
// when the byte there does not start one. `pos` must be < text.size().
size_t utf8SequenceLength(std::string_view text, size_t pos);

// Offset of the first byte that is not part of a well-formed sequence;
// nullopt when the whole text is valid UTF-8.
std::optional<size_t> firstInvalidUtf8(std::string_view text);

}  // namespace autoglm::launch::serve
