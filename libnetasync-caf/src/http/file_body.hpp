#pragma once

// Static files (ws.static-dir) on an HTTP connection: a mixin of
// http_session (server_session.cpp), which it reaches as its Session, as
// streamed_body.hpp does for streamed responses. The file is looked up,
// opened and read on the blocking pool, a chunk at a time; each chunk is
// written on the strand before the next is read. Conditional requests get
// 304, ranges 206 or 416 (http/static_files.hpp decides which). Every
// member runs on the connection's strand.

#include <memory>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>

#include "http/static_files.hpp"

namespace netasync::detail {

template <class Session>
class file_body {
protected:
  using file_response
    = boost::beast::http::response<boost::beast::http::buffer_body>;
  using file_serializer
    = boost::beast::http::response_serializer<boost::beast::http::buffer_body>;

  // The conditions and range of the request being served (set by the
  // session before serve_file).
  file_conditions cond_;

public:
  // A small file read within the cache's validity is answered from memory
  // here, without a thread hand-off or a file-system call. Otherwise one
  // trip to the blocking pool opens the file, judges the request and reads
  // the first chunk (or, for a small file, all of it, for the cache): two
  // thread hand-offs, not four (the profile of a 4 KiB file under ab -k
  // was mostly hand-offs).
  void serve_file(const std::string& target) {
    auto& s = self();
    auto path = target.substr(0, target.find_first_of("?#"));
    auto& cache = s.shared_->files;
    if (auto snap = cache.fresh(path, static_cache::clock::now())) {
      s.arm_timer("the file not written");
      send_snapshot(std::move(snap));
      return;
    }
    s.arm_timer("the file not served");
    on_pool([dir = s.opts().static_dir, target, cond = cond_,
             head = s.head_] {
      opened r;
      r.f = static_file::open(dir, target);
      if (!r.f)
        return r;
      if (r.f->canonical() && r.f->size() <= static_file::chunk_size) {
        r.read_at = static_cache::clock::now();
        r.snap = r.f->snapshot();
        if (r.snap) // else read in chunks below, and told so if that fails
          return r;
      }
      r.answer = judge(r.f->meta(), cond);
      if (r.answer.status == 206)
        r.f->restrict_to(r.answer.first, r.answer.last);
      if ((r.answer.status == 200 || r.answer.status == 206) && !head) {
        r.read = true;
        r.ok = r.f->read_next();
      }
      return r;
    }, [path](Session& s, opened r) {
      auto& cache = s.shared_->files;
      if (r.snap) {
        cache.keep(path, r.snap, r.read_at);
        s.send_snapshot(std::move(r.snap));
        return;
      }
      if (!r.f)
        cache.keep(path, nullptr, {}); // gone: not kept either
      s.start_file(std::move(r));
    });
  }

  struct opened {
    std::shared_ptr<static_file> f;
    // A small file read whole, to keep, and when it was read.
    file_snapshot_ptr snap;
    static_cache::clock::time_point read_at;
    file_answer answer;
    // Whether the first chunk was read, and how that went.
    bool read = false;
    bool ok = false;
  };

  void start_file(opened r) {
    auto& s = self();
    auto& f = r.f;
    if (!f) {
      s.send_text(404, "not found\n");
      return;
    }
    if (r.read && !r.ok) { // nothing is out yet: say so
      s.send_text(500, "reading the file failed\n");
      return;
    }
    if (without_body(f->meta(), r.answer))
      return;
    auto res = std::make_shared<file_response>();
    s.stamp(*res);
    file_head(*res, f->meta(), r.answer);
    res->body().data = nullptr;
    res->body().more = true;
    auto sr = std::make_shared<file_serializer>(*res);
    s.served_ = true;
    if (s.head_) {
      s.write_header_only(std::move(res), std::move(sr));
      return;
    }
    if (r.read)
      write_chunk(std::move(f), std::move(res), std::move(sr), r.ok);
    else
      next_chunk(std::move(f), std::move(res), std::move(sr));
  }

  // 304 and 416 are the head alone: sent if `a` is one, and true then.
  bool without_body(const file_meta& m, const file_answer& a) {
    if (a.status != 304 && a.status != 416)
      return false;
    auto res = std::make_shared<
      boost::beast::http::response<boost::beast::http::string_body>>();
    file_head(*res, m, a);
    self().send(std::move(res));
    return true;
  }

  // A small file from memory: the answer the request asks for, at once.
  void send_snapshot(file_snapshot_ptr snap) {
    auto& s = self();
    auto a = judge(snap->meta, cond_);
    if (without_body(snap->meta, a))
      return;
    auto res = std::make_shared<file_response>();
    s.stamp(*res);
    file_head(*res, snap->meta, a);
    auto first = a.status == 206 ? a.first : 0;
    auto size = a.status == 206 ? a.last - a.first + 1 : snap->meta.size;
    res->body().data = size == 0 ? nullptr
                                 : const_cast<char*>(snap->bytes.data() + first);
    res->body().size = size;
    res->body().more = false;
    auto sr = std::make_shared<file_serializer>(*res);
    s.served_ = true;
    if (s.head_) {
      s.write_header_only(std::move(res), std::move(sr));
      return;
    }
    boost::beast::http::async_write(
      s.stream_, *sr,
      [self = s.shared_from_this(), snap, res,
       sr](boost::system::error_code ec, size_t) {
        if (ec == boost::beast::http::error::need_buffer)
          ec = {};
        self->after_response(ec);
      });
  }

  void next_chunk(std::shared_ptr<static_file> f,
                  std::shared_ptr<file_response> res,
                  std::shared_ptr<file_serializer> sr) {
    on_pool([f] { return f->read_next(); },
            [f, res, sr](Session& s, bool ok) {
              s.write_chunk(f, res, sr, ok);
            });
  }

  void write_chunk(std::shared_ptr<static_file> f,
                   std::shared_ptr<file_response> res,
                   std::shared_ptr<file_serializer> sr, bool ok) {
    auto& s = self();
    if (!ok) { // the header may be out: only a reset tells the client
      s.fail("reading the file failed");
      return;
    }
    // Each chunk must go out within ws.handshake-timeout (a progress bound:
    // a large file to a slow but reading client is not cut).
    s.arm_timer("a chunk of the file not written");
    auto& chunk = f->chunk();
    res->body().data = const_cast<char*>(chunk.data());
    res->body().size = chunk.size();
    res->body().more = !f->done();
    boost::beast::http::async_write(
      s.stream_, *sr,
      [self = s.shared_from_this(), f, res,
       sr](boost::system::error_code ec, size_t) {
        if (ec == boost::beast::http::error::need_buffer)
          ec = {}; // the chunk is out: the next one
        if (ec || f->done()) {
          self->after_response(ec);
          return;
        }
        self->next_chunk(f, res, sr);
      });
  }

private:
  Session& self() {
    return static_cast<Session&>(*this);
  }

  // Runs `work` on the blocking pool, then `then` with its result on the
  // strand (unless the session ended meanwhile).
  template <class Work, class Then>
  void on_pool(Work work, Then then) {
    auto& s = self();
    auto ex = s.timer_.get_executor();
    auto pool = s.shared_->params.blocking.lock();
    if (!pool) { // the module is stopping
      s.fail("shutting down");
      return;
    }
    pool->post([self = s.shared_from_this(), ex, work = std::move(work),
                then = std::move(then)]() mutable {
      auto result = work();
      boost::asio::post(ex, [self = std::move(self), then = std::move(then),
                             result = std::move(result)]() mutable {
        if (!self->finished_)
          then(*self, std::move(result));
      });
    });
  }
};

} // namespace netasync::detail
