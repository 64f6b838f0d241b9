// Out-of-line destructors anchor the vtables of the seams.

#include "netasync/dialer.hpp"
#include "netasync/listener.hpp"
#include "netasync/transport.hpp"

namespace netasync {

transport::~transport() = default;

dialer::~dialer() = default;

listener::~listener() = default;

} // namespace netasync
