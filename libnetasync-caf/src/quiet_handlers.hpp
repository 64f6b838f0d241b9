#pragma once

// The default handler of the library's actors for messages they do not
// know: dropped, answered with an error only when it was a request. (CAF's
// own answers every message with unexpected_message, which quits a sender
// without an error handler: an application's mistake must not end it, nor a
// subscriber's one of ours.)

#include <caf/message.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>

namespace netasync::detail {

inline caf::result<caf::message> drop_quietly(caf::scheduled_actor* self,
                                              caf::message_view&) {
  if (self->current_message_id().is_request())
    return caf::make_error(caf::sec::unexpected_message);
  return caf::message{};
}

} // namespace netasync::detail
