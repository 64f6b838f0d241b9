// Out-of-line destructors anchor the vtables of the seams.

#include "dialer.hpp"
#include "listener.hpp"
#include "transport.hpp"

namespace netasync {

transport::~transport() = default;

link_upper::~link_upper() = default;

dialer::~dialer() = default;

listener::~listener() = default;

} // namespace netasync
