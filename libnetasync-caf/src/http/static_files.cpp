#include "http/static_files.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/target.hpp"
#include "http/util.hpp"

namespace netasync::detail {

namespace {

// The file `target` names under `dir` and the directory's own real path;
// both "" if none may be served.
std::pair<std::string, std::string> resolve(const std::string& dir,
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
  return {rs, ro};
}

} // namespace

std::string static_file_for(const std::string& dir,
                            const std::string& target) {
  return resolve(dir, target).first;
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
  auto [file, root] = resolve(dir, target);
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
  file_meta meta;
  meta.size = static_cast<uint64_t>(st.st_size);
  meta.type = content_type_of(file);
  meta.mtime = static_cast<int64_t>(st.st_mtim.tv_sec);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "\"%llx-%llx\"",
                static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull
                  + static_cast<unsigned long long>(st.st_mtim.tv_nsec));
  meta.etag = buf;
  std::tm tm{};
  ::gmtime_r(&st.st_mtim.tv_sec, &tm);
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  meta.last_modified = buf;
  auto f = std::shared_ptr<static_file>{new static_file(fd, std::move(meta))};
  auto path = target.substr(0, target.find_first_of("?#"));
  f->canonical_ = path.find('%') == std::string::npos
                  && (file == root + path
                      || (path.back() == '/'
                          && file == root + path + "index.html"));
  return f;
}

file_snapshot_ptr static_file::snapshot() {
  if (meta_.size > chunk_size)
    return nullptr;
  offset_ = 0;
  end_ = meta_.size;
  if (end_ > 0 && !read_next())
    return nullptr;
  auto r = std::make_shared<file_snapshot>();
  r->meta = meta_;
  r->bytes = std::move(chunk_);
  return r;
}

file_snapshot_ptr static_cache::fresh(const std::string& path,
                                      clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = files_.find(path);
  if (i == files_.end() || now - i->second.read_at >= validity)
    return nullptr;
  return i->second.file;
}

void static_cache::keep(const std::string& path, file_snapshot_ptr f,
                        clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = files_.find(path);
  if (i != files_.end()) {
    bytes_ -= i->second.file->bytes.size();
    files_.erase(i);
  }
  if (!f)
    return;
  if (bytes_ + f->bytes.size() > max_bytes && now - swept_ >= validity) {
    // Room first from what is no longer fresh (it would be read again);
    // at most once per `validity`, so that a cache full of fresh files
    // is not walked on every miss.
    swept_ = now;
    for (auto j = files_.begin(); j != files_.end();)
      if (now - j->second.read_at >= validity) {
        bytes_ -= j->second.file->bytes.size();
        j = files_.erase(j);
      } else {
        ++j;
      }
    if (bytes_ + f->bytes.size() > max_bytes)
      return;
  }
  bytes_ += f->bytes.size();
  files_.emplace(path, entry{std::move(f), now});
}

namespace {

// An HTTP date (IMF-fixdate) as seconds since the epoch; -1 if it is none.
int64_t parse_http_date(const std::string& x) {
  std::tm tm{};
  auto end = ::strptime(x.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0')
    return -1;
  return static_cast<int64_t>(::timegm(&tm));
}

// "123" as a number; false for anything else (no sign, no overflow).
bool parse_offset(const std::string& x, uint64_t& out) {
  if (x.empty() || x.size() > 19
      || x.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoull(x);
  return true;
}

bool etag_listed(const std::string& list, const std::string& etag) {
  if (http_util::trim(list) == "*")
    return true;
  for (auto& x : http_util::split_list(list)) {
    auto tag = x.rfind("W/", 0) == 0 ? x.substr(2) : x; // weak comparison
    if (tag == etag)
      return true;
  }
  return false;
}

} // namespace

file_answer judge(const file_meta& f, const file_conditions& c) {
  file_answer r;
  // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
  if (!c.if_none_match.empty()) {
    if (etag_listed(c.if_none_match, f.etag))
      r.status = 304;
  } else if (!c.if_modified_since.empty()) {
    auto since = parse_http_date(c.if_modified_since);
    if (since >= 0 && f.mtime <= since)
      r.status = 304;
  }
  if (r.status == 304 || c.range.empty())
    return r;
  // A Range for another version of the file (If-Range) is ignored.
  if (!c.if_range.empty() && c.if_range != f.etag
      && c.if_range != f.last_modified)
    return r;
  if (c.range.rfind("bytes=", 0) != 0 || c.range.find(',') != std::string::npos)
    return r;
  auto spec = http_util::trim(std::string_view{c.range}.substr(6));
  auto dash = spec.find('-');
  if (dash == std::string::npos)
    return r;
  auto a = spec.substr(0, dash);
  auto b = spec.substr(dash + 1);
  uint64_t first = 0;
  uint64_t last = 0;
  auto size = f.size;
  if (a.empty()) { // the last b bytes
    uint64_t n = 0;
    if (!parse_offset(b, n))
      return r;
    if (n == 0) {
      r.status = 416;
      return r;
    }
    if (size == 0)
      return r; // the whole of nothing (RFC 9110 14.1.1)
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    if (!parse_offset(a, first) || (!b.empty() && !parse_offset(b, last)))
      return r;
    if (!b.empty() && last < first)
      return r; // an invalid range is ignored (RFC 9110 14.1.1)
    if (first >= size) {
      r.status = 416;
      return r;
    }
    if (b.empty() || last >= size)
      last = size - 1;
  }
  r.status = 206;
  r.first = first;
  r.last = last;
  return r;
}

static_file::~static_file() {
  ::close(fd_);
}

bool static_file::read_next() {
  auto want = static_cast<size_t>(std::min<uint64_t>(chunk_size,
                                                     end_ - offset_));
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
