// netasync-http: a small curl over netasync's HTTP client actor.
//
//   netasync-http [-X METHOD] [-H 'Name: value']... [-d DATA | --data-file F]
//                 [-i] [--tls-ca PEM] [--tls-cert PEM --tls-key PEM]
//                 [--max-redirects N] [--timeout SECONDS] URL [URL...]
//                 [--netasync.KEY=VALUE ...] [--config-file=INI]
//
// Fetches the URLs one after the other through one client, so that URLs of
// one host share a kept-alive connection, and prints each body to stdout
// (with -i, the status line and the header fields first). Its last line on
// stderr is "N requests, C connections" (C: connections opened). Exit
// status: 0 when every response's status is below 400, 1 when one is an
// HTTP error, 2 on a bad command line (a URL the client cannot use
// included), 3 on a transport or TLS failure (the reason on stderr), which
// wins over 1.

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "netasync/atoms.hpp"
#include "netasync/error.hpp"
#include "netasync/http_client.hpp"
#include "netasync/system_config.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;

namespace {

const char* usage
  = "usage: netasync-http [-X METHOD] [-H 'Name: value']... [-d DATA | "
    "--data-file F] [-i] [--tls-ca PEM] [--tls-cert PEM --tls-key PEM] "
    "[--max-redirects N] [--timeout SECONDS] URL [URL...] "
    "[--netasync.KEY=VALUE ...] [--config-file=INI]";

[[noreturn]] void bad_usage(const std::string& why) {
  std::cerr << "netasync-http: " << why << "\n" << usage << std::endl;
  std::exit(2);
}

struct args {
  std::string method;
  netasync::http_fields headers;
  std::string body;
  bool has_body = false;
  bool include = false;
  std::string ca, cert, key;
  size_t max_redirects = 0;
  double timeout = 30;
  std::vector<std::string> urls;
  // --netasync.http-client.pool=false and the like, for CAF's parser.
  std::vector<std::string> config;
};

size_t number(const std::string& flag, const std::string& x) {
  char* end = nullptr;
  auto n = std::strtoull(x.c_str(), &end, 10);
  if (x.empty() || *end != '\0' || x[0] == '-')
    bad_usage(flag + " takes a whole number, got '" + x + "'");
  return n;
}

args parse(int argc, char** argv) {
  args r;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc)
      bad_usage(std::string{argv[i]} + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-X") {
      r.method = value(i);
    } else if (a == "-H") {
      auto h = value(i);
      auto colon = h.find(':');
      if (colon == std::string::npos || colon == 0)
        bad_usage("-H takes 'Name: value', got '" + h + "'");
      auto v = h.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      r.headers.emplace_back(h.substr(0, colon), v);
    } else if (a == "-d") {
      if (r.has_body)
        bad_usage("one of -d and --data-file, once");
      r.body = value(i);
      r.has_body = true;
    } else if (a == "--data-file") {
      if (r.has_body)
        bad_usage("one of -d and --data-file, once");
      auto path = value(i);
      std::ifstream in{path, std::ios::binary};
      if (!in)
        bad_usage("cannot read --data-file " + path);
      r.body.assign(std::istreambuf_iterator<char>{in}, {});
      r.has_body = true;
    } else if (a == "-i") {
      r.include = true;
    } else if (a == "--tls-ca") {
      r.ca = value(i);
    } else if (a == "--tls-cert") {
      r.cert = value(i);
    } else if (a == "--tls-key") {
      r.key = value(i);
    } else if (a == "--max-redirects") {
      r.max_redirects = number(a, value(i));
    } else if (a == "--timeout") {
      auto x = value(i);
      char* end = nullptr;
      r.timeout = std::strtod(x.c_str(), &end);
      if (x.empty() || *end != '\0' || !(r.timeout > 0))
        bad_usage("--timeout takes a positive number of seconds, got '" + x
                  + "'");
    } else if (a.rfind("--netasync.", 0) == 0
               || a.rfind("--config-file=", 0) == 0) {
      r.config.push_back(a);
    } else if (a == "-h" || a == "--help") {
      std::cout << usage << std::endl;
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      bad_usage("unknown flag " + a);
    } else {
      r.urls.push_back(a);
    }
  }
  if (r.urls.empty())
    bad_usage("no URL");
  if (r.cert.empty() != r.key.empty())
    bad_usage("--tls-cert and --tls-key go together");
  if (r.method.empty())
    r.method = r.has_body ? "POST" : "GET";
  return r;
}

bool has_header(const netasync::http_fields& xs, const std::string& lower) {
  for (auto& x : xs) {
    std::string k = x.first;
    for (auto& c : k)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (k == lower)
      return true;
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  auto a = parse(argc, argv);
  netasync::system_config cfg;
  if (!cli::load_config(cfg, a.config))
    return 2;
  caf::actor_system sys{cfg};
  auto opts = netasync::options::from(cfg);
  opts.tls.ca_file = a.ca;
  opts.tls.cert_file = a.cert;
  opts.tls.key_file = a.key;
  opts.http_client.max_redirects = a.max_redirects;
  auto timeout = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>{a.timeout});
  opts.http_client.request_timeout = timeout;
  opts.connect_timeout = std::min(opts.connect_timeout, timeout);
  auto client = netasync::spawn_http_client(sys, opts);
  if (!client) {
    std::cerr << "netasync-http: " << netasync::describe(client.error())
              << std::endl;
    return 2;
  }
  if (a.has_body && !has_header(a.headers, "content-type"))
    a.headers.emplace_back("Content-Type",
                           "application/x-www-form-urlencoded");
  bool http_error = false;
  bool failed = false;
  bool bad_url = false;
  caf::scoped_actor self{sys};
  // The client's own timeouts answer first; this one only keeps a bug
  // from hanging the program.
  auto bound = timeout * (1 + a.max_redirects) + opts.connect_timeout
               * (1 + a.max_redirects) + std::chrono::seconds(5);
  for (auto& url : a.urls) {
    netasync::http_request req;
    req.method = a.method;
    req.target = url;
    req.headers = a.headers;
    req.body = a.body;
    self->request(*client, bound, std::move(req))
      .receive(
        [&](netasync::http_response& res) {
          if (a.include) {
            std::cout << "HTTP/1.1 " << res.status << "\r\n";
            for (auto& [k, v] : res.headers)
              std::cout << k << ": " << v << "\r\n";
            std::cout << "\r\n";
          }
          std::cout.write(res.body.data(),
                          static_cast<std::streamsize>(res.body.size()));
          std::cout.flush();
          if (res.status >= 400)
            http_error = true;
        },
        [&](caf::error& err) {
          std::cerr << "netasync-http: " << url << ": "
                    << netasync::describe(err) << std::endl;
          if (netasync::code_of(err) == netasync::error::invalid_argument)
            bad_url = true;
          else
            failed = true;
        });
  }
  uint64_t created = 0;
  self->request(*client, std::chrono::seconds(5), netasync::stats_atom::value)
    .receive([&](const netasync::http_client_stats& st) { created = st.created; },
             [](caf::error&) {});
  std::cerr << a.urls.size() << " requests, " << created << " connections"
            << std::endl;
  self->send_exit(*client, caf::exit_reason::user_shutdown);
  return bad_url ? 2 : failed ? 3 : http_error ? 1 : 0;
}
