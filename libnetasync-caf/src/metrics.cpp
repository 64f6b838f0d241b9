#include "metrics.hpp"

namespace netasync::detail {

std::string prometheus_text(const acceptor_stats& s,
                            const http_client_stats& c) {
  std::string r;
  auto metric = [&](const char* name, const char* type, const char* help,
                    uint64_t value) {
    r += std::string{"# HELP netasync_"} + name + " " + help + "\n";
    r += std::string{"# TYPE netasync_"} + name + " " + type + "\n";
    r += std::string{"netasync_"} + name + " " + std::to_string(value) + "\n";
  };
  metric("connections_open", "gauge", "Connections open now.", s.open);
  metric("connections_accepted_total", "counter",
         "Connections accepted since the start.", s.accepted);
  metric("connections_refused_total", "counter",
         "Connections reset at once (max-connections, no subscriber).",
         s.refused);
  metric("handshake_failures_total", "counter",
         "TLS and WebSocket handshakes that failed or timed out.",
         s.handshake_failures);
  metric("buffered_bytes", "gauge",
         "Bytes held in outbound buffers and unprocessed payloads.",
         s.buffered_bytes);
  metric("messages_received_total", "counter", "Payloads received.",
         s.received);
  metric("bytes_received_total", "counter", "Payload bytes received.",
         s.bytes_received);
  metric("messages_sent_total", "counter", "Payloads written completely.",
         s.sent);
  metric("bytes_sent_total", "counter", "Payload bytes written completely.",
         s.bytes_sent);
  metric("sends_lost_total", "counter",
         "Sends refused or dropped by the outbound buffers.", s.sends_lost);
  metric("sessions_resumed_total", "counter",
         "Links that resumed a session kept here.", s.resumed);
  // The HTTP clients of this actor system (spawn_http_client), in all.
  metric("http_client_connections_open", "gauge",
         "HTTP client connections open or being opened now.", c.open);
  metric("http_client_connections_idle", "gauge",
         "HTTP client connections idle in the pools now.", c.idle);
  metric("http_client_requests_waiting", "gauge",
         "HTTP client requests waiting for a connection now.", c.waiting);
  metric("http_client_connections_created_total", "counter",
         "HTTP client connections opened.", c.created);
  metric("http_client_requests_reused_total", "counter",
         "HTTP client requests sent on a kept-alive connection.", c.reused);
  metric("http_client_requests_retried_total", "counter",
         "HTTP client requests sent again after a kept-alive connection "
         "turned out closed.", c.retried);
  metric("http_client_responses_total", "counter",
         "HTTP client requests answered with a response.", c.responses);
  metric("http_client_failures_total", "counter",
         "HTTP client requests answered with an error.", c.failures);
  return r;
}

} // namespace netasync::detail
