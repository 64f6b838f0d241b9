#!/usr/bin/env bash
# Runs the shipped programs as a user would: the echo server on a free port,
# the echo client (10,000 x 256 B) and the README's hello client against it,
# checks that examples and benchmarks refuse a bad command line alike, then
# stops the server with SIGTERM and checks it exits 0. Every wait is
# bounded; the server is stopped by PID whatever happens.
set -u
bin=$1
out=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$out"/*; do echo "--- $f"; tail -5 "$f"; done; exit 1; }

"$bin/netasync-echo-server" --host 127.0.0.1 --port 0 >"$out/server.out" 2>"$out/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$out/server.out" && break
  sleep 0.1
done
line=$(head -1 "$out/server.out")
port=${line##*:}
[[ "$line" =~ ^listening\ on\ 127\.0\.0\.1:[0-9]+$ ]] || fail "server printed '$line'"

timeout 90 "$bin/netasync-echo-client" --host 127.0.0.1 --port "$port" \
  --count 10000 --size 256 --timeout 60 >"$out/client.out" 2>"$out/client.err" \
  || fail "echo client exited $?"
last=$(tail -1 "$out/client.out")
[ "$last" = "10000 sent, 10000 echoed, 0 mismatched" ] || fail "client said '$last'"
grep -h "messages/s" "$out/client.err" | tail -1

timeout 30 "$bin/netasync-hello-client" --port="$port" >"$out/hello.out" 2>&1 \
  || fail "hello client exited $?"
grep -q '^echo: hello$' "$out/hello.out" || fail "hello client: $(cat "$out/hello.out")"

# --size 0 is refused with the reason, as a usage error (exit 2).
"$bin/netasync-echo-client" --host 127.0.0.1 --port "$port" --count 1 --size 0 \
  >/dev/null 2>"$out/size0.err"
rc=$?
[ "$rc" = 2 ] || fail "--size 0 exited $rc, not 2"
grep -q "heartbeat" "$out/size0.err" || fail "--size 0 said: $(cat "$out/size0.err")"

# One flag parser (examples/flags.hpp) for examples and benchmarks: the same
# mistake is refused in the same words with exit 2 by either kind, and
# --help is not an error.
expect_usage() { # expect_usage WORDS PROGRAM ARGS...
  local words=$1; shift
  "$@" >/dev/null 2>"$out/usage.err"
  local rc=$?
  [ "$rc" = 2 ] || fail "$* exited $rc, not 2"
  grep -qF -- "$words" "$out/usage.err" || fail "$* said: $(cat "$out/usage.err")"
}
expect_usage "unknown flag --bogus" "$bin/netasync-echo-server" --port 0 --host 127.0.0.1 --bogus 1
expect_usage "--port must be an integer in [1, 65535]" \
  "$bin/netasync-echo-client" --host 127.0.0.1 --port 0 --count 1 --size 1
# The sanitizer build leaves the benchmarks out (NETASYNC_BENCHMARKS=OFF).
if [ -x "$bin/netasync-bench-raw" ]; then
  expect_usage "unknown flag --bogus for recv" "$bin/netasync-bench-raw" recv --port 0 --bogus 1
  expect_usage "--port must be an integer in [1, 65535]" \
    "$bin/netasync-bench-raw" ping --host 127.0.0.1 --port 0 --size 1 --count 1
fi
expect_usage "--count given twice" \
  "$bin/netasync-echo-client" --host h --port 1 --count 1 --count=2 --size 1
"$bin/netasync-echo-server" --help >"$out/help.out" 2>&1 || fail "--help exited $?"
grep -q "^usage: .*--listen URL" "$out/help.out" || fail "--help said: $(cat "$out/help.out")"

kill -TERM "$server_pid"
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
wait "$server_pid"
rc=$?
server_pid=
[ "$rc" = 0 ] || fail "server exited $rc on SIGTERM"
echo "1 passed, 0 failed"
