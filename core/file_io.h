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

// Durable writes (checkpoints): fsync of a file or folder, a file written and
// fsync'ed, a file replaced atomically (temporary beside it, fsync, rename,
// fsync of the folder), and an atomic exchange of two paths (renameat2
// RENAME_EXCHANGE). Each throws std::system_error naming the path on failure.
void fsyncPath(const std::string& path);
void writeFileDurable(const std::string& path, std::string_view data);
void replaceFileAtomic(const std::string& path, std::string_view data);
// Swaps what `a` and `b` name, in one step; both must exist. Returns false
// where the file system cannot (the caller falls back).
bool exchangePaths(const std::string& a, const std::string& b);

// "a\nb\n" from {"a", "b"}; splitLines is its inverse (a last line without
// '\n' is kept, so it also reads files that lack a final newline).
std::string joinLines(const std::vector<std::string>& lines);
std::vector<std::string> splitLines(std::string_view text);

}  // namespace autoglm::core
