#include "netasync/options.hpp"

#include <iostream>

#include "netasync/error.hpp"
#include "option_table.hpp"

namespace netasync {

const char* to_string(overflow_policy x) {
  switch (x) {
    case overflow_policy::reject: return "reject";
    case overflow_policy::drop_newest: return "drop-newest";
    case overflow_policy::drop_oldest: return "drop-oldest";
  }
  return "reject";
}

namespace {

constexpr overflow_policy overflow_policies[] = {
  overflow_policy::reject, overflow_policy::drop_newest,
  overflow_policy::drop_oldest};
constexpr client_cert_policy client_cert_policies[] = {
  client_cert_policy::none, client_cert_policy::optional,
  client_cert_policy::required};
constexpr jitter_policy jitter_policies[] = {
  jitter_policy::none, jitter_policy::full, jitter_policy::equal};

// The value among `all` whose to_string is `str`.
template <class E, size_t N>
caf::optional<E> by_name(const std::string& str, const E (&all)[N]) {
  for (auto x : all)
    if (str == to_string(x))
      return x;
  return caf::none;
}

// "a, b, c": the names of `all`, for error messages.
template <class E, size_t N>
std::string names_of(const E (&all)[N]) {
  std::string r;
  for (auto x : all)
    r += (r.empty() ? "" : ", ") + std::string{to_string(x)};
  return r;
}

} // namespace

namespace detail {

std::string choice_names(overflow_policy) {
  return names_of(overflow_policies);
}

std::string choice_names(client_cert_policy) {
  return names_of(client_cert_policies);
}

std::string choice_names(jitter_policy) {
  return names_of(jitter_policies);
}

} // namespace detail

caf::optional<overflow_policy> parse_overflow_policy(const std::string& str) {
  return by_name(str, overflow_policies);
}

const char* to_string(client_cert_policy x) {
  switch (x) {
    case client_cert_policy::none: return "none";
    case client_cert_policy::optional: return "optional";
    case client_cert_policy::required: return "required";
  }
  return "none";
}

caf::optional<client_cert_policy>
parse_client_cert_policy(const std::string& str) {
  return by_name(str, client_cert_policies);
}

const char* to_string(jitter_policy x) {
  switch (x) {
    case jitter_policy::none: return "none";
    case jitter_policy::full: return "full";
    case jitter_policy::equal: return "equal";
  }
  return "none";
}

caf::optional<jitter_policy> parse_jitter_policy(const std::string& str) {
  return by_name(str, jitter_policies);
}

options options::from(const caf::actor_system_config& cfg) {
  options r;
  // Not silent: the value is ignored, and the operator is told which.
  if (auto err = detail::read_options(cfg, r))
    std::cerr << "netasync: ignoring an invalid option (its default stays): "
              << describe(err) << std::endl;
  return r;
}

caf::expected<options> options::parse(const caf::actor_system_config& cfg) {
  options r;
  if (auto err = detail::read_options(cfg, r))
    return err;
  return r;
}

void add_options(caf::config_option_set& opts) {
  detail::declare_options(opts);
}

} // namespace netasync
