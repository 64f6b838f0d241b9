#pragma once

// Small helpers shared by the test suites: readable error codes, the echo
// tests' payload pattern, and what /proc says about this process.

#include <dirent.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include "netasync/bytes.hpp"
#include "netasync/error.hpp"

namespace netasync::test {

/// "none", a netasync enumerator name ("heartbeat_timeout"), or CAF's text.
inline std::string code_name(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() == error_category)
    return to_string(code_of(err));
  return caf::to_string(err);
}

/// A payload of `size` bytes that differs for every sequence number.
inline bytes make_payload(uint64_t seq, size_t size) {
  bytes result(size);
  for (size_t i = 0; i < size; ++i)
    result[i] = static_cast<char>((seq * 131 + i * 7 + (i >> 8)) & 0xff);
  return result;
}

/// Issue 19's pipelined echo: 1,000 sizes of 1 B to 64 KiB, then 8 of 1 MiB
/// (about 40 MB), the same in every run.
inline std::vector<size_t> pipelined_echo_sizes() {
  std::mt19937_64 rng{19};
  std::uniform_int_distribution<size_t> size_of(1, 64 * 1024);
  std::vector<size_t> sizes;
  while (sizes.size() < 1000)
    sizes.push_back(size_of(rng));
  sizes.insert(sizes.end(), 8, 1024 * 1024);
  return sizes;
}

/// Resident set size of this process in bytes (/proc/self/statm, field 2).
inline size_t rss_bytes() {
  long pages = 0, resident = 0;
  if (auto* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident)
         * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

inline double mib(size_t x) {
  return static_cast<double>(x) / (1024.0 * 1024.0);
}

/// Open file descriptors of this process (entries of /proc/self/fd, minus
/// the one opendir itself holds).
inline size_t open_fds() {
  size_t n = 0;
  if (auto* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    ::closedir(d);
    if (n > 0)
      --n;
  }
  return n;
}

} // namespace netasync::test
