#pragma once

// Every netasync.* option, declared once: a row each in option_table.cpp
// (its key, where its value goes, its bounds, what it means). The defaults
// are those of a default-constructed `options` (netasync/options.hpp),
// shown from it. From the rows come: the reader of options::from and
// options::parse, the keys CAF's configuration knows (add_options, with
// the help text and the default), the bounds connect() and accept() check
// (src/option_checks.hpp), and the README's table of options
// (options_test checks that the README shows exactly this table).
// Private to the library.

#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>
#include <caf/error.hpp>

#include "netasync/options.hpp"

namespace netasync::detail {

/// Reads the netasync.* keys of `cfg` into `r`; the first invalid value is
/// the result (its field keeps what it had), and the rest is read on.
caf::error read_options(const caf::actor_system_config& cfg, options& r);

/// Declares every key (with its help and default) to CAF's configuration.
void declare_options(caf::config_option_set& set);

/// The first value of `opts` outside its bounds (a bound of 0 that would
/// stop a connection for good, a period that is not positive), among the
/// rows that apply: the common ones, and those of TLS (`tls`) and of the
/// WebSocket (`ws`) when the endpoint runs inside them, and the HTTP
/// client's (`http_client`) for spawn_http_client.
caf::error check_bounds(const options& opts, bool tls, bool ws,
                        bool http_client = false);

/// The README's table of options: key, default, meaning (Markdown).
std::string options_markdown();

/// "a, b, c": the names a choice takes (options.cpp, from the parsers'
/// own lists), for error messages.
std::string choice_names(overflow_policy);
std::string choice_names(client_cert_policy);
std::string choice_names(jitter_policy);

} // namespace netasync::detail
