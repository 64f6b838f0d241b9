#!/usr/bin/env bash
# netasync-cat from a shell, as a user would drive it: against the echo
# server (--once, --hex, --binary-stdin, --null), against itself (--listen:
# lines both ways, the newest peer, --broadcast, end of stdin, SIGINT), and
# against an independent peer written from docs/protocol.md (Python, raw
# socket): the bytes on the wire. Every wait is bounded; every process is
# stopped by PID whatever happens.
set -u
bin=$1
out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$out"/*.err "$out"/*.out; do [ -e "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done; exit 1; }
cat=$bin/netasync-cat

# Waits (at most 10 s) until file $1 has a line matching $2.
await_line() {
  for _ in $(seq 100); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no '$2' in $1"
}
# Waits (at most 10 s) for process $1 to end; its status in $rc.
await_exit() {
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$1" 2>/dev/null && fail "process $1 still running"
  wait "$1"; rc=$?
}

"$bin/netasync-echo-server" --listen tcp://127.0.0.1:0 >"$out/echo.out" 2>"$out/echo.err" &
pids+=($!)
await_line "$out/echo.out" '^listening on '
echo_url=$(sed -n 's/^listening on //p' "$out/echo.out")

# 1. A line out, its echo back; statuses on stderr only.
got=$(printf 'hello\n' | timeout 20 "$cat" --once "$echo_url" 2>"$out/once.err") \
  || fail "--once exited $?"
[ "$got" = hello ] || fail "--once printed '$got'"
grep -qx connected "$out/once.err" || fail "no 'connected' on stderr"
# 2. Hex both ways.
got=$(printf '68656c6c6f\n' | timeout 20 "$cat" --once --hex "$echo_url" 2>/dev/null)
[ "$got" = 68656c6c6f ] || fail "--hex printed '$got'"
# 3. Frames on stdin, as on the wire (a heartbeat first: skipped).
got=$(printf '\0\0\0\0\0\0\0\5world' | timeout 20 "$cat" --once --binary-stdin "$echo_url" 2>/dev/null)
[ "$got" = world ] || fail "--binary-stdin printed '$got'"
# 4. NUL-separated both ways.
got=$(printf 'a b\0' | timeout 20 "$cat" --once --null "$echo_url" 2>/dev/null | od -An -c | tr -s ' ')
[ "$got" = " a b \\0" ] || fail "--null printed '$got'"
# 5. A bad command line exits 2.
timeout 10 "$cat" >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "no URL exited $rc"
timeout 10 "$cat" --broadcast "$echo_url" >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "--broadcast without --listen exited $rc"

# 6. netasync-cat --listen: lines from a client; end of the client's stdin
#    closes it gracefully (exit 0) after its lines went out.
mkfifo "$out/server.in"
"$cat" --listen tcp://127.0.0.1:0 <"$out/server.in" >"$out/server.out" 2>"$out/server.err" &
server=$!
pids+=($server)
exec 7>"$out/server.in" # the server's stdin stays open
await_line "$out/server.err" '^listening on tcp://127\.0\.0\.1:'
url=$(sed -n 's/^listening on //p' "$out/server.err")
printf 'one\ntwo\n' | timeout 20 "$cat" "$url" >/dev/null 2>"$out/client1.err" \
  || fail "client exited $? after the end of its stdin"
await_line "$out/server.out" '^two$'
[ "$(cat "$out/server.out")" = "$(printf 'one\ntwo')" ] || fail "server printed $(cat "$out/server.out")"
grep -qx closed "$out/client1.err" || fail "client did not report closed"

# 7. The server's stdin goes to the newest peer; --once exits after it.
timeout 20 "$cat" --once "$url" </dev/null >"$out/client2.out" 2>"$out/client2.err" &
client2=$!
pids+=($client2)
await_line "$out/client2.err" '^connected$'
echo pong >&7
await_exit "$client2"
[ "$rc" = 0 ] || fail "--once client exited $rc"
[ "$(cat "$out/client2.out")" = pong ] || fail "client got '$(cat "$out/client2.out")'"

# 8. SIGINT closes and exits 0.
kill -INT "$server"
await_exit "$server"
[ "$rc" = 0 ] || fail "server exited $rc after SIGINT"
exec 7>&-

# 9. --broadcast: one line reaches every peer.
mkfifo "$out/bc.in"
"$cat" --listen --broadcast tcp://127.0.0.1:0 <"$out/bc.in" >/dev/null 2>"$out/bc.err" &
bc=$!
pids+=($bc)
exec 8>"$out/bc.in"
await_line "$out/bc.err" '^listening on '
bc_url=$(sed -n 's/^listening on //p' "$out/bc.err")
for i in 1 2; do
  timeout 20 "$cat" --once "$bc_url" </dev/null >"$out/peer$i.out" 2>"$out/peer$i.err" &
  eval "peer$i=\$!"
  pids+=($!)
  await_line "$out/peer$i.err" '^connected$'
done
# Both are the server's peers before the line goes out.
for _ in $(seq 100); do
  [ "$(grep -c '^connected$' "$out/bc.err")" = 2 ] && break
  sleep 0.1
done
[ "$(grep -c '^connected$' "$out/bc.err")" = 2 ] || fail "broadcast server has not 2 peers"
echo everyone >&8
for i in 1 2; do
  eval "await_exit \$peer$i"
  [ "$rc" = 0 ] || fail "broadcast peer $i exited $rc"
  [ "$(cat "$out/peer$i.out")" = everyone ] || fail "peer $i got '$(cat "$out/peer$i.out")'"
done
exec 8>&-  # end of stdin: the server closes and exits 0
await_exit "$bc"
[ "$rc" = 0 ] || fail "broadcast server exited $rc at the end of its stdin"

# 10. An independent peer (Python, from docs/protocol.md): what
#     netasync-cat writes is a length-prefixed frame, and it reads one.
python3 - "$out/py.port" >"$out/py.out" 2>"$out/py.err" <<'PY' &
import socket, struct, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
open(sys.argv[1], "w").write(str(srv.getsockname()[1]) + "\n")
srv.settimeout(20)
conn, _ = srv.accept()
conn.settimeout(20)
def read(n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise SystemExit("eof")
        data += chunk
    return data
while True:
    (n,) = struct.unpack(">I", read(4))
    if n:  # heartbeats are skipped
        print(read(n).decode())
        break
# Answered only now: netasync-cat --once exits at the first message it
# receives, and an answer that came before it had read its stdin would
# make it leave without sending (a race seen under ASan in CI).
conn.sendall(b"\x00\x00\x00\x00" + struct.pack(">I", 5) + b"hello")
PY
py=$!
pids+=($py)
await_line "$out/py.port" '^[0-9]'
got=$(printf 'from cat\n' | timeout 20 "$cat" --once "tcp://127.0.0.1:$(cat "$out/py.port")" 2>/dev/null)
[ "$got" = hello ] || fail "from the Python peer: '$got'"
await_exit "$py"
[ "$rc" = 0 ] || fail "Python peer exited $rc"
[ "$(cat "$out/py.out")" = "from cat" ] || fail "Python peer read '$(cat "$out/py.out")'"
kill -TERM "${pids[0]}"
await_exit "${pids[0]}"
echo "netasync-cat: all cases passed"
