#pragma once

#include "netasync/accept.hpp"
#include "netasync/acceptor.hpp"
#include "netasync/atoms.hpp"
#include "netasync/bytes.hpp"
#include "netasync/connect.hpp"
#include "netasync/connection.hpp"
#include "netasync/connection_stats.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "netasync/io_module.hpp"
#include "netasync/options.hpp"
#include "netasync/system_config.hpp"
