#!/usr/bin/env bash
# Interoperability with an independent WebSocket implementation, Python's
# websockets (Debian python3-websockets, run by Debian's /usr/bin/python3):
# as a client of netasync-echo-server and as a server of
# netasync-echo-client, over ws:// and wss://, and a Python server that goes
# away (close 1001) mid-run, which our client survives by reconnecting.
# Every wait is bounded;
# background processes are stopped by PID.
set -u
bin=$1
certs=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    { kill -KILL "$p" && wait "$p"; } 2>/dev/null
  done
  rm -rf "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$out"/*; do echo "--- $f"; tail -5 "$f"; done; exit 1; }
"$py" -c 'import websockets' 2>/dev/null || fail "$py has no websockets (apt-get install python3-websockets)"

# wait_line FILE REGEX: the first line of FILE matching REGEX, within 10 s.
wait_line() {
  for _ in $(seq 100); do
    line=$(grep -m1 -E "$2" "$1" 2>/dev/null) && { echo "$line"; return 0; }
    sleep 0.1
  done
  return 1
}

passed=0
# Python client against our server.
for scheme in ws wss; do
  tls=()
  ca=()
  if [ "$scheme" = wss ]; then
    tls=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key")
    ca=(--ca "$certs/ca.pem")
  fi
  "$bin/netasync-echo-server" --listen "$scheme://127.0.0.1:0/echo" "${tls[@]}" \
    >"$out/server-$scheme.out" 2>"$out/server-$scheme.err" &
  pids+=($!)
  line=$(wait_line "$out/server-$scheme.out" '^listening on ') || fail "$scheme server did not start"
  url=${line#listening on }
  timeout 60 "$py" "$here/python_ws_peer.py" client "$url" "${ca[@]}" \
    >"$out/pyclient-$scheme.out" 2>&1 || fail "python client over $scheme exited $?"
  grep -qx ok "$out/pyclient-$scheme.out" || fail "python client over $scheme"
  echo "python client -> netasync server over $scheme: ok"
  passed=$((passed + 1))
  # Issue 19: a client that pipelines about 40 MB (1 B to 1 MiB) while it
  # reads gets every echo, in order; the server refused or dropped nothing.
  timeout 120 "$py" "$here/python_ws_peer.py" pipeline "$url" "${ca[@]}" \
    >"$out/pypipeline-$scheme.out" 2>&1 || fail "python pipelining client over $scheme exited $?"
  grep -q "^ok 1008 echoed" "$out/pypipeline-$scheme.out" || fail "python pipelining client over $scheme"
  kill -INT "${pids[-1]}"
  wait_line "$out/server-$scheme.err" ' 0 sends refused or dropped$' >/dev/null \
    || fail "the $scheme server lost sends: $(grep 'sends refused' "$out/server-$scheme.err")"
  echo "python client pipelining 40 MB -> netasync server over $scheme: every echo, none lost"
  passed=$((passed + 1))
done

# Our client against a Python server.
for scheme in ws wss; do
  tls=()
  ca=()
  if [ "$scheme" = wss ]; then
    tls=(--cert "$certs/server.pem" --key "$certs/server.key")
    ca=(--tls-ca "$certs/ca.pem")
  fi
  "$py" "$here/python_ws_peer.py" server "${tls[@]}" >"$out/pyserver-$scheme.out" 2>&1 &
  pids+=($!)
  line=$(wait_line "$out/pyserver-$scheme.out" '^listening port=') || fail "python $scheme server did not start"
  port=${line#listening port=}
  timeout 60 "$bin/netasync-echo-client" --connect "$scheme://127.0.0.1:$port/" "${ca[@]}" \
    --count 2000 --size 3000 --timeout 30 >"$out/client-$scheme.out" 2>"$out/client-$scheme.err" \
    || fail "echo client over $scheme exited $?"
  last=$(tail -1 "$out/client-$scheme.out")
  [ "$last" = "2000 sent, 2000 echoed, 0 mismatched" ] || fail "echo client over $scheme said '$last'"
  echo "netasync client -> python server over $scheme: ok"
  passed=$((passed + 1))
done

# A server going away (close 1001) mid-run: our client reports the code and
# the reason, reconnects, and every message is still echoed.
"$py" "$here/python_ws_peer.py" server --going-away-after 300 >"$out/pyserver-away.out" 2>&1 &
pids+=($!)
line=$(wait_line "$out/pyserver-away.out" '^listening port=') || fail "python server did not start"
port=${line#listening port=}
timeout 60 "$bin/netasync-echo-client" --connect "ws://127.0.0.1:$port/" \
  --count 2000 --size 3000 --timeout 30 --reconnect-period 50 \
  >"$out/client-away.out" 2>"$out/client-away.err" || fail "echo client (going away) exited $?"
last=$(tail -1 "$out/client-away.out")
[ "$last" = "2000 sent, 2000 echoed, 0 mismatched" ] || fail "echo client (going away) said '$last'"
grep -q "1001 (going away): server restarting" "$out/client-away.err" \
  || fail "no 1001 in the client's statuses: $(grep -i disconnect "$out/client-away.err" | head -3)"
grep -q "connects 2," "$out/client-away.err" || fail "the client did not reconnect once: $(grep connects "$out/client-away.err")"
echo "python server going away (1001) -> netasync client reconnects: ok"
passed=$((passed + 1))
echo "$passed passed, 0 failed"
