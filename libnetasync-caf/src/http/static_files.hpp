#pragma once

// The static directory of a ws:// listener (ws.static-dir): which file a
// request names, and the file itself, opened and read on the blocking pool
// (blocking_pool.hpp), never on an I/O thread, where a slow disk would
// stall every link of that thread. The HTTP session (server_session.cpp)
// writes what each read returns before it asks for the next, so a file
// costs one chunk of memory per request however large it is. Private to
// the library.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
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

/// What a request asks of a static file beyond naming it: the fields of
/// conditional and range requests (RFC 9110 13, 14), empty when absent.
struct file_conditions {
  std::string if_none_match;
  std::string if_modified_since;
  std::string range;
  std::string if_range;
};

/// How to answer: 200 the whole file; 206 the bytes first..last
/// (inclusive); 304 not modified; 416 a range past the end. One range
/// only: a list of ranges gets the whole file (RFC 9110 14.2 allows it).
struct file_answer {
  unsigned status = 200;
  uint64_t first = 0;
  uint64_t last = 0;
};

/// What a response says about a file: its size, its validators (a strong
/// ETag of size and mtime; the mtime as an HTTP date) and its type.
struct file_meta {
  uint64_t size = 0;
  /// Seconds since the epoch of the last modification.
  int64_t mtime = 0;
  std::string etag;
  std::string last_modified;
  const char* type = "application/octet-stream";
};

file_answer judge(const file_meta& f, const file_conditions& c);

/// A small file read whole: what the cache keeps.
struct file_snapshot {
  file_meta meta;
  std::vector<char> bytes;
};

using file_snapshot_ptr = std::shared_ptr<const file_snapshot>;

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

  const file_meta& meta() const {
    return meta_;
  }

  /// Whether the request's path names this file as the file system does
  /// (no escapes, no "//" or "/./", not a link's name): only such a path
  /// is a key of the cache, so that one file is kept once.
  bool canonical() const {
    return canonical_;
  }

  /// Reads the file whole (at most chunk_size, else null): blocks.
  file_snapshot_ptr snapshot();

  /// Serve the bytes first..last (inclusive) only.
  void restrict_to(uint64_t first, uint64_t last) {
    offset_ = first;
    end_ = last + 1;
  }

  /// Reads the next chunk; false if the file ended early or failed.
  bool read_next();

  uint64_t size() const {
    return meta_.size;
  }

  /// The bytes the last read_next() gave.
  const std::vector<char>& chunk() const {
    return chunk_;
  }

  bool done() const {
    return offset_ >= end_;
  }

private:
  static_file(int fd, file_meta meta)
    : fd_(fd), end_(meta.size), meta_(std::move(meta)) {
    // nop
  }

  int fd_;
  uint64_t end_;
  uint64_t offset_ = 0;
  file_meta meta_;
  bool canonical_ = false;
  std::vector<char> chunk_;
};

/// Small files kept in memory, by request path, for the static directory
/// of one listener: nginx's open_file_cache, with the bytes. A file of at
/// most static_file::chunk_size read for an answer is kept and served from
/// memory, on the I/O thread, for `validity` after it was read; after that
/// the next request reads it again on the blocking pool (a change to a
/// file is seen within `validity`). At most `max_bytes` in all: past that
/// the stale ones are dropped, and if that is not room enough a new file is
/// not kept. Threads: any, under its mutex.
class static_cache {
public:
  static constexpr auto validity = std::chrono::seconds(1);
  static constexpr size_t max_bytes = 16 * 1024 * 1024;

  using clock = std::chrono::steady_clock;

  /// The file kept for `path`, if it was read within `validity`.
  file_snapshot_ptr fresh(const std::string& path, clock::time_point now);

  /// Keeps `f` (read at `now`) for `path`, or forgets `path` (null f).
  void keep(const std::string& path, file_snapshot_ptr f,
            clock::time_point now);

private:
  struct entry {
    file_snapshot_ptr file;
    clock::time_point read_at;
  };

  std::mutex mtx_;
  std::unordered_map<std::string, entry> files_;
  size_t bytes_ = 0;
  clock::time_point swept_;
};

/// The head of `answer` for `f` into a Beast response `res` (any body):
/// status, validators, and for 200/206 the type, length and range; for
/// 416 the size. (Field names as text: no Beast here.)
template <class Response>
void file_head(Response& res, const file_meta& f, const file_answer& a) {
  res.result(a.status);
  res.set("ETag", f.etag);
  res.set("Last-Modified", f.last_modified);
  res.set("Accept-Ranges", "bytes");
  if (a.status == 416)
    res.set("Content-Range", "bytes */" + std::to_string(f.size));
  if (a.status != 200 && a.status != 206)
    return;
  res.set("Content-Type", f.type);
  res.content_length(a.status == 206 ? a.last - a.first + 1 : f.size);
  if (a.status == 206)
    res.set("Content-Range", "bytes " + std::to_string(a.first) + "-"
                               + std::to_string(a.last) + "/"
                               + std::to_string(f.size));
}

} // namespace netasync::detail
