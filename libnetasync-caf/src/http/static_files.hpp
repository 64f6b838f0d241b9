#pragma once

// The static directory of a ws:// listener (ws.static-dir): which file a
// request names, and the file itself, opened and read on the blocking pool
// (blocking_pool.hpp), never on an I/O thread, where a slow disk would
// stall every link of that thread. The HTTP session (server_session.cpp)
// writes what each read returns before it asks for the next, so a file
// costs one chunk of memory per request however large it is. Private to
// the library.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netasync::detail {

/// Largest file the static directory serves (a demo page, not a CDN).
constexpr uintmax_t max_static_file = 16 * 1024 * 1024;

/// The file under `dir` that `target` names, or "" if none may be served
/// (outside `dir`, not a regular file, larger than max_static_file, a
/// malformed target). "/" and directories name their index.html. Blocks
/// (file-system calls): the blocking pool only. Public for tests.
std::string static_file_for(const std::string& dir, const std::string& target);

/// The Content-Type of a file, by its extension.
const char* content_type_of(const std::string& file);

/// One file being served. open() and read_next() block: the blocking pool
/// only; the session reads size(), chunk() and done() after a read's result
/// was handed to its strand.
class static_file {
public:
  /// Bytes read at a time.
  static constexpr size_t chunk_size = 64 * 1024;

  /// The file `target` names under `dir`, opened; null if there is none
  /// (the answer is then 404).
  static std::shared_ptr<static_file> open(const std::string& dir,
                                           const std::string& target);

  ~static_file();

  /// Reads the next chunk; false if the file ended early or failed.
  bool read_next();

  uint64_t size() const {
    return size_;
  }

  const char* type() const {
    return type_;
  }

  /// The bytes the last read_next() gave.
  const std::vector<char>& chunk() const {
    return chunk_;
  }

  bool done() const {
    return offset_ >= size_;
  }

private:
  static_file(int fd, uint64_t size, const char* type)
    : fd_(fd), size_(size), type_(type) {
    // nop
  }

  int fd_;
  uint64_t size_;
  uint64_t offset_ = 0;
  const char* type_;
  std::vector<char> chunk_;
};

} // namespace netasync::detail
