#pragma once

// Payload types. Applications send and receive std::vector<char> (what CAF
// 0.17's own brokers use). Inside the library an accepted payload is held as
// shared immutable bytes so that the outbound buffer and the link share one
// copy.

#include <memory>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

namespace netasync {

using bytes = std::vector<char>;

using shared_bytes = std::shared_ptr<const bytes>;

} // namespace netasync

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::shared_bytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<netasync::shared_bytes>)
