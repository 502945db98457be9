#pragma once
// Whole-file reads and '\n'-joined string lists, shared by the graph cache,
// datasets and checkpoints. Callers turn a failed read into their own error
// type (DataError, CheckpointError), which names what the file was for.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autoglm::core {

// The file's bytes, or nothing when it cannot be opened.
std::optional<std::string> readFileBytes(const std::string& path);

// "a\nb\n" from {"a", "b"}; splitLines is its inverse (a last line without
// '\n' is kept, so it also reads files that lack a final newline).
std::string joinLines(const std::vector<std::string>& lines);
std::vector<std::string> splitLines(std::string_view text);

}  // namespace autoglm::core
