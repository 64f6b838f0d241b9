#!/usr/bin/env bash
# A client dialing a port nobody listens on must not connect to itself.
#
# With no listener on a port inside the ephemeral range, the kernel may give
# the connecting socket that same port; TCP's simultaneous open then joins
# the socket to itself, and the client would read its own messages back as
# the peer's. On a normal machine that is a rare race; here it is forced:
# inside a private user + network namespace the ephemeral range is narrowed
# to the one port dialed, so every connect attempt is a self-connect.
#
# Exit 77 (reported as skipped) when this machine cannot create namespaces.
set -u
bin=$1
port=40999

if ! unshare -rn true 2>/dev/null; then
  echo "SKIP: cannot create a user + network namespace (unshare -rn)"
  exit 77
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; echo "--- client stderr"; tail -20 "$out/err"; exit 1; }

# The client runs for at most 3 s (its own --timeout). Then, in the same
# namespace, the echo server must be able to bind the port at once: a
# self-connection closed normally would hold it in TIME_WAIT for a minute.
# Everything is bounded by timeout and ends with the namespace.
timeout 30 unshare -rn bash -c '
  set -u
  ip link set lo up || exit 90
  echo "$1 $1" > /proc/sys/net/ipv4/ip_local_port_range || exit 91
  "$2/netasync-echo-client" --host 127.0.0.1 --port "$1" --count 5 \
    --size 16 --timeout 3 --reconnect-period 100 >"$3/out" 2>"$3/err"
  echo "client exit $?" >"$3/rc"
  "$2/netasync-echo-server" --host 127.0.0.1 --port "$1" >"$3/server.out" \
    2>"$3/server.err" &
  pid=$!
  for _ in $(seq 50); do
    grep -q "^listening on " "$3/server.out" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  exit 0
' _ "$port" "$bin" "$out"
ns_rc=$?
[ "$ns_rc" -eq 0 ] || fail "the namespace script exited $ns_rc"

# Every attempt is reported as a failed connect naming the cause (about 30
# at a 100 ms period; 10 leaves room for a slow machine)...
n=$(grep -c "connected to itself" "$out/err")
[ "$n" -ge 10 ] || fail "expected >= 10 self-connect refusals in 3 s, saw $n"
# ...none as connected, nothing comes back as an echo, the client fails.
grep -q '^\[client\] connected' "$out/err" && fail "the client reported connected"
last=$(tail -1 "$out/out")
[ "$last" = "5 sent, 0 echoed, 0 mismatched" ] || fail "client said '$last'"
[ "$(cat "$out/rc")" != "client exit 0" ] || fail "the client exited 0 without a server"
# The port is free for its server right away.
grep -q "^listening on 127.0.0.1:$port\$" "$out/server.out" \
  || fail "server could not bind $port after the client: $(cat "$out/server.err")"
echo "ok: $n attempts refused as self-connects, nothing echoed, port free"
