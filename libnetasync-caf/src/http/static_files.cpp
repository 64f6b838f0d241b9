#include "http/static_files.hpp"

#include <cctype>
#include <filesystem>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/target.hpp"
#include "http/util.hpp"

namespace netasync::detail {

std::string static_file_for(const std::string& dir,
                            const std::string& target) {
  namespace fs = std::filesystem;
  auto path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path.front() != '/')
    return {};
  // Percent-decoding; a NUL or a malformed escape refuses the request.
  auto dec = percent_decode(path);
  if (!dec)
    return {};
  auto& decoded = *dec;
  // No segment may climb: checked on the text, then on the resolved path
  // (a symbolic link inside the directory may point anywhere).
  std::istringstream segs{decoded};
  for (std::string seg; std::getline(segs, seg, '/');)
    if (seg == ".." || seg.find('\\') != std::string::npos)
      return {};
  std::error_code ec;
  auto root = fs::canonical(dir, ec);
  if (ec)
    return {};
  auto candidate = root / fs::path{decoded}.relative_path();
  if (fs::is_directory(candidate, ec))
    candidate /= "index.html";
  auto real = fs::canonical(candidate, ec);
  if (ec || !fs::is_regular_file(real, ec)
      || fs::file_size(real, ec) > max_static_file)
    return {};
  auto rs = real.string();
  auto ro = root.string();
  if (rs.compare(0, ro.size(), ro) != 0
      || (rs.size() > ro.size() && rs[ro.size()] != '/'))
    return {};
  return rs;
}

const char* content_type_of(const std::string& file) {
  static const std::pair<const char*, const char*> types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
  };
  auto ext = http_util::lower(std::filesystem::path{file}.extension().string());
  for (auto& [e, t] : types)
    if (ext == e)
      return t;
  return "application/octet-stream";
}

std::shared_ptr<static_file> static_file::open(const std::string& dir,
                                               const std::string& target) {
  auto file = static_file_for(dir, target);
  if (file.empty())
    return nullptr;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nullptr;
  // The size of what was opened (the name may have been replaced since).
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
      || static_cast<uintmax_t>(st.st_size) > max_static_file) {
    ::close(fd);
    return nullptr;
  }
  return std::shared_ptr<static_file>{
    new static_file(fd, static_cast<uint64_t>(st.st_size),
                    content_type_of(file))};
}

static_file::~static_file() {
  ::close(fd_);
}

bool static_file::read_next() {
  auto want = static_cast<size_t>(std::min<uint64_t>(chunk_size,
                                                     size_ - offset_));
  chunk_.resize(want);
  size_t got = 0;
  while (got < want) {
    auto n = ::pread(fd_, chunk_.data() + got, want - got,
                     static_cast<off_t>(offset_ + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false; // shrunk under us, or failed: the answer is cut
    got += static_cast<size_t>(n);
  }
  offset_ += got;
  return true;
}

} // namespace netasync::detail
