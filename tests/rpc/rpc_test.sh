#!/usr/bin/env bash
# The rpc example as a user runs it: netasync-kv-client works the
# netasync-kv-server through calls while its links are killed from outside
# (ss -K, as a dying NAT or a reset would), and still gets every answer once;
# then the server drains on SIGTERM. Also netasync-echo-server --session
# --drain-timeout. Every process is cleaned up by PID; every wait is bounded.
#
#   rpc_test.sh BIN_DIR
set -euo pipefail
bin=$1
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$work"/*; do echo "== $f"; tail -20 "$f"; done; exit 1; }

# Waits (at most 10 s) for "listening on URL" in $1; prints the port.
port_of() {
  for _ in $(seq 100); do
    if grep -q "listening on" "$1" 2>/dev/null; then
      sed -n 's/.*listening on .*:\([0-9]*\).*/\1/p' "$1" | head -1
      return 0
    fi
    sleep 0.1
  done
  fail "no 'listening on' in $1"
}

# Killing a socket from outside needs ss -K (root, CONFIG_INET_DIAG_DESTROY).
if ! ss -K dst 127.0.0.1 dport = 1 >/dev/null 2>&1; then
  echo "SKIP: ss -K is not available here"
  exit 77
fi

echo "== kv client through killed links =="
"$bin/netasync-kv-server" --listen tcp://127.0.0.1:0 --drain-timeout 3000 \
  >"$work/server.out" 2>"$work/server.err" &
server=$!; pids+=("$server")
port=$(port_of "$work/server.out")
"$bin/netasync-kv-client" --connect "tcp://127.0.0.1:$port" --count 300 \
  --interval 10 \
  >"$work/client.out" 2>"$work/client.err" &
client=$!; pids+=("$client")
# Kill the client's links twice while it works (the client side of each
# link: its remote port is the server's).
for t in 1 2; do
  sleep 1
  ss -K dst 127.0.0.1 dport = "$port" >/dev/null 2>&1 || true
done
for _ in $(seq 300); do kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
kill -0 "$client" 2>/dev/null && fail "the client did not finish within 30 s"
wait "$client" || fail "the client failed"
last=$(tail -1 "$work/client.out")
echo "client: $last"
[[ $last =~ ^600\ calls,\ 600\ answered,\ 0\ failed,\ ([0-9]+)\ resumes$ ]] \
  || fail "unexpected client line: $last"
(( BASH_REMATCH[1] >= 1 )) || fail "no link was killed and resumed"
grep -q "link dropped" "$work/client.err" || fail "the client saw no drop"

echo "== kv server drains on SIGTERM =="
kill -TERM "$server"
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server" 2>/dev/null && fail "the server did not exit within 10 s"
wait "$server" || fail "the server exited non-zero"
last=$(tail -1 "$work/server.out")
echo "server: $last"
[[ $last =~ ^drained:\ [0-9]+\ connections\ closed,\ [0-9]+\ calls\ completed,\ 0\ calls\ abandoned,\ 0\ messages\ dropped$ ]] \
  || fail "unexpected server line: $last"

echo "== a drain with a client at work =="
"$bin/netasync-kv-server" --listen tcp://127.0.0.1:0 --drain-timeout 3000 \
  >"$work/server2.out" 2>"$work/server2.err" &
server=$!; pids+=("$server")
port=$(port_of "$work/server2.out")
"$bin/netasync-kv-client" --connect "tcp://127.0.0.1:$port" --count 100000 \
  >"$work/client2.out" 2>"$work/client2.err" &
client=$!; pids+=("$client")
for _ in $(seq 100); do
  grep -q "connected" "$work/client2.err" 2>/dev/null && break
  [[ -s "$work/server2.err" ]] && break
  sleep 0.1
done
sleep 0.5
kill -TERM "$server"
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
wait "$server" || fail "the server exited non-zero"
last=$(tail -1 "$work/server2.out")
echo "server: $last"
[[ $last =~ ^drained:\ 1\ connections\ closed,\ [0-9]+\ calls\ completed,\ 0\ calls\ abandoned,\ 0\ messages\ dropped$ ]] \
  || fail "unexpected server line: $last"
# The client learns the drain: its next call fails, and it ends.
for _ in $(seq 100); do kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
kill -0 "$client" 2>/dev/null && fail "the client did not end after the drain"
grep -q "draining" "$work/client2.err" || fail "the client was not told: draining"

echo "== echo server --session --drain-timeout =="
"$bin/netasync-echo-server" --listen tcp://127.0.0.1:0 --session \
  --drain-timeout 2000 >"$work/echo.out" 2>"$work/echo.err" &
echo_pid=$!; pids+=("$echo_pid")
port=$(port_of "$work/echo.out")
"$bin/netasync-kv-client" --connect "tcp://127.0.0.1:$port" --count 1 \
  >"$work/echo-client.out" 2>"$work/echo-client.err" || true
# The echo server answers a call with its own bytes: "put key-0 value-0"
# comes back, which the kv client counts as a wrong answer (failed 2).
last=$(tail -1 "$work/echo-client.out")
[[ $last == "2 calls, 2 answered, 2 failed, 0 resumes" ]] \
  || fail "unexpected echo client line: $last"
kill -TERM "$echo_pid"
for _ in $(seq 100); do kill -0 "$echo_pid" 2>/dev/null || break; sleep 0.1; done
wait "$echo_pid" || fail "the echo server exited non-zero"
last=$(tail -1 "$work/echo.out")
echo "echo server: $last"
[[ $last == "drained: 0 connections closed, 0 calls completed, 0 calls abandoned, 0 messages dropped" ]] \
  || fail "unexpected echo server line: $last"
echo "PASS"
