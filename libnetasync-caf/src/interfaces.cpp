// Out-of-line destructors anchor the vtables of the seams.

#include "dialer.hpp"
#include "listener.hpp"
#include "transport.hpp"

namespace netasync {

transport::~transport() = default;

receive_sink::~receive_sink() = default;

dialer::~dialer() = default;

listener::~listener() = default;

} // namespace netasync
