// The one command-line parser of the example and benchmark programs:
// "--name value" or "--name=value" pairs, declared switches, an optional
// subcommand first. Flags are read on demand, and finish() refuses any flag
// the program never asked for, so a typo cannot fall back to a default.
// Every usage error prints the problem and the usage text and exits 2, so
// scripts tell a bad command line from a failed run. Flags that name a
// configuration key (with a dot, e.g. --netasync.receive-window=1M) and
// --config-file are kept apart for the configuration's parser.
//
// Deliberately free of project and third-party dependencies: the benchmark
// yardsticks (raw epoll, libzmq) include it too and must not link this
// library. netasync-cat is not a user: it takes CAF's own command line.

#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace flags {

// Whether argv[1] names a subcommand (the benchmarks) or is a flag already.
enum class layout { flags_only, subcommand_first };

class parser {
public:
  // `usage`: one line of synopsis (printed after the program's name) or,
  // when it holds a newline, a whole block printed as it is.
  // `switches`: the names (without "--") that take no value.
  parser(int argc, char** argv, std::string usage,
         layout lay = layout::flags_only,
         std::initializer_list<const char*> switches = {})
    : prog_(argc > 0 ? argv[0] : "?"), usage_(std::move(usage)) {
    for (auto s : switches)
      switches_.insert(s);
    int i = 1;
    if (lay == layout::subcommand_first) {
      if (argc < 2 || is_help(argv[1]))
        usage_error(argc < 2 ? "missing subcommand" : "");
      cmd_ = argv[1];
      i = 2;
    }
    for (; i < argc; ++i) {
      std::string arg = argv[i];
      if (is_help(arg))
        help();
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
        usage_error("expected --flag, got " + arg);
      auto name = arg.substr(2);
      std::string val;
      if (is_config_key(name)) {
        // A configuration key (netasync.heartbeat-period=2s, a bare
        // netasync.session, config-file=F) goes on to the configuration's
        // own parser as it was written: see config_args().
        config_args_.push_back(arg);
        continue;
      }
      if (auto eq = name.find('='); eq != std::string::npos) {
        val = name.substr(eq + 1);
        name.resize(eq);
        if (switches_.count(name))
          usage_error("--" + name + " takes no value");
      } else if (switches_.count(name)) {
        val = "true";
      } else {
        if (i + 1 >= argc)
          usage_error("missing value for --" + name);
        val = argv[++i];
      }
      if (!flags_.emplace(name, std::move(val)).second)
        usage_error("--" + name + " given twice");
    }
  }

  const std::string& cmd() const { return cmd_; }

  // Prints `problem` (if any) and the usage to stderr, then exits 2.
  [[noreturn]] void usage_error(const std::string& problem) const {
    if (!problem.empty())
      std::fprintf(stderr, "%s: %s\n", prog_.c_str(), problem.c_str());
    print_usage(stderr);
    std::exit(2);
  }

  // Whether `name` was given (marks it as known either way).
  bool given(const char* name) {
    return lookup(name, false) != nullptr;
  }

  // A switch: true if given.
  bool on(const char* name) { return given(name); }

  // The value of `name`; without a default the flag is required.
  std::string str(const char* name, const char* def = nullptr) {
    auto v = lookup(name, def == nullptr);
    return v ? *v : def;
  }

  // An integer in [lo, hi]; without a default the flag is required.
  long long num(const char* name, long long lo, long long hi) {
    return num_impl(name, lo, hi, nullptr);
  }
  long long num(const char* name, long long lo, long long hi, long long def) {
    return num_impl(name, lo, hi, &def);
  }

  // A number in (lo, hi]: durations in seconds, where 0 means nothing.
  // Without a default the flag is required.
  double real(const char* name, double lo, double hi) {
    return real_impl(name, lo, hi, nullptr);
  }
  double real(const char* name, double lo, double hi, double def) {
    return real_impl(name, lo, hi, &def);
  }

  // The configuration's flags, as given: keys with a dot (--netasync.KEY or
  // --netasync.KEY=VALUE) and --config-file=INI, for CAF's parser, which
  // checks them (the program exits 2 on a bad one).
  const std::vector<std::string>& config_args() const { return config_args_; }

  // Refuses any flag nobody asked for. Call after reading all flags.
  void finish() const {
    for (auto& kv : flags_)
      if (!used_.count(kv.first))
        usage_error("unknown flag --" + kv.first
                    + (cmd_.empty() ? "" : " for " + cmd_));
  }

private:
  static std::string shortest(double x) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", x);
    return buf;
  }

  static bool is_config_key(const std::string& name) {
    auto key = name.substr(0, name.find('='));
    return key.find('.') != std::string::npos || key == "config-file";
  }

  static bool is_help(const std::string& arg) {
    return arg == "-h" || arg == "--help";
  }

  void print_usage(std::FILE* out) const {
    if (usage_.find('\n') != std::string::npos)
      std::fprintf(out, "usage:\n%s", usage_.c_str());
    else
      std::fprintf(out, "usage: %s %s\n", prog_.c_str(), usage_.c_str());
  }

  // --help is a request, not an error: usage on stdout, exit 0.
  [[noreturn]] void help() const {
    print_usage(stdout);
    std::exit(0);
  }

  // The value given for `name` (now known); null when it was not given
  // and is not `required`.
  const std::string* lookup(const char* name, bool required) {
    used_.insert(name);
    if (auto i = flags_.find(name); i != flags_.end())
      return &i->second;
    if (required)
      usage_error(std::string{"--"} + name + " is required");
    return nullptr;
  }

  long long num_impl(const char* name, long long lo, long long hi,
                     const long long* def) {
    auto v = lookup(name, def == nullptr);
    if (!v)
      return *def;
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(v->c_str(), &end, 10);
    // strtoll clamps on overflow and stops at junk: both are errors here.
    if (v->empty() || errno != 0 || *end != '\0' || x < lo || x > hi)
      usage_error(std::string{"--"} + name + " must be an integer in ["
                  + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }

  double real_impl(const char* name, double lo, double hi,
                   const double* def) {
    auto v = lookup(name, def == nullptr);
    if (!v)
      return *def;
    char* end = nullptr;
    errno = 0;
    double x = std::strtod(v->c_str(), &end);
    if (v->empty() || errno != 0 || *end != '\0' || !(x > lo) || x > hi)
      usage_error(std::string{"--"} + name + " must be a number in ("
                  + shortest(lo) + ", " + shortest(hi) + "]");
    return x;
  }

  std::string prog_;
  std::string usage_;
  std::string cmd_;
  std::set<std::string> switches_;
  std::map<std::string, std::string> flags_;
  std::set<std::string> used_;
  std::vector<std::string> config_args_;
};

} // namespace flags
