#pragma once

// GET /metrics on an acceptor's HTTP port: the acceptor's counters and
// those of the actor system's HTTP clients (http/client_board.hpp), in the
// Prometheus text exposition format (version 0.0.4). Private to the
// library.

#include <string>

#include "netasync/acceptor.hpp"
#include "netasync/http_client.hpp"

namespace netasync::detail {

std::string prometheus_text(const acceptor_stats& s,
                            const http_client_stats& clients);

} // namespace netasync::detail
