#pragma once
// A file mapped read-only into memory (mmap), unmapped when the object goes.
// For files read in place: the graph cache layout, the binary word vectors.

#include <cstddef>
#include <string>
#include <string_view>

namespace autoglm::core {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps the whole file; throws DataError naming the path when it cannot be
  // opened or mapped. An empty file maps to an empty view.
  explicit MappedFile(const std::string& path);
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const char* data() const { return static_cast<const char*>(map_); }
  size_t size() const { return size_; }
  std::string_view bytes() const { return {data(), size_}; }

 private:
  void release() noexcept;
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace autoglm::core
