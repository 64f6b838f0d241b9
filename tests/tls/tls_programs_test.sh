#!/usr/bin/env bash
# The echo programs over tls://, as other tools drive them, and against an
# independent peer (Python's ssl module, tests/tls/python_peer.py) both ways:
#  1. echo server --listen tls://127.0.0.1:0 prints "listening on tls://..."
#  2. echo client --connect tls://... 2,000 x 256 B: all echoed
#  3. Python TLS client -> our server; our client -> Python TLS server, with
#     the SNI it sends (the name dialled or --tls-server-name; none for an IP)
#  4. a client trusting another CA: exit 1, the reason on stderr
#  5. mutual TLS: --tls-require-client-cert refuses a client without a
#     certificate and serves one with it
# Every wait is bounded; servers are stopped by PID whatever happens.
set -u
bin=$1
certs=$2
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$out"/*; do echo "--- $f"; tail -5 "$f"; done; exit 1; }
passed=0

# await_line FILE REGEX: the first line of FILE once it matches (10 s).
await_line() {
  for _ in $(seq 100); do
    grep -qE "$2" "$1" 2>/dev/null && { grep -m1 -E "$2" "$1"; return 0; }
    sleep 0.1
  done
  return 1
}

# start_server NAME ARGS...: runs the echo server; sets $port.
start_server() {
  local name=$1
  shift
  "$bin/netasync-echo-server" "$@" >"$out/$name.out" 2>"$out/$name.err" &
  pids+=($!)
  local line
  line=$(await_line "$out/$name.out" '^listening on ') || fail "$name printed nothing"
  [[ "$line" =~ ^listening\ on\ tls://127\.0\.0\.1:[0-9]+$ ]] || fail "$name printed '$line'"
  port=${line##*:}
}

client() { timeout 60 "$bin/netasync-echo-client" "$@"; }

# 1, 2
start_server tls --listen tls://127.0.0.1:0 \
  --tls-cert "$certs/server.pem" --tls-key "$certs/server.key"
tls_port=$port
client --connect "tls://127.0.0.1:$tls_port" --tls-ca "$certs/ca.pem" \
  --count 2000 --size 256 --timeout 30 >"$out/c1.out" 2>"$out/c1.err" \
  || fail "tls echo client exited $?"
[ "$(tail -1 "$out/c1.out")" = "2000 sent, 2000 echoed, 0 mismatched" ] \
  || fail "tls client said '$(tail -1 "$out/c1.out")'"
passed=$((passed + 2))

# 3: Python's ssl as the client, then as the server.
timeout 60 python3 "$here/python_peer.py" client "$tls_port" "$certs/ca.pem" 500 \
  >"$out/py-client.out" 2>&1 || fail "python client exited $?"
[ "$(tail -1 "$out/py-client.out")" = "500 sent, 500 echoed, 0 mismatched" ] \
  || fail "python client said '$(tail -1 "$out/py-client.out")'"
python3 "$here/python_peer.py" server "$certs/server.pem" "$certs/server.key" \
  >"$out/py-server.out" 2>&1 &
pids+=($!)
line=$(await_line "$out/py-server.out" '^listening on ') || fail "python server printed nothing"
client --connect "tls://localhost:${line##* }" --tls-ca "$certs/ca.pem" \
  --count 2000 --size 1000 --timeout 30 >"$out/c2.out" 2>"$out/c2.err" \
  || fail "client vs python server exited $?"
[ "$(tail -1 "$out/c2.out")" = "2000 sent, 2000 echoed, 0 mismatched" ] \
  || fail "client vs python server said '$(tail -1 "$out/c2.out")'"
grep -qx "sni localhost" "$out/py-server.out" || fail "no SNI localhost"
# By IP: no SNI; with --tls-server-name: that name, whether it verifies or not.
client --connect "tls://127.0.0.1:${line##* }" --tls-ca "$certs/ca.pem" \
  --count 1 --size 16 --timeout 10 >/dev/null 2>&1 || fail "client by IP exited $?"
grep -qx "sni None" "$out/py-server.out" || fail "SNI sent for an IP literal"
client --connect "tls://127.0.0.1:${line##* }" --tls-ca "$certs/ca.pem" \
  --tls-server-name sni.example --count 1 --size 16 --timeout 1 >/dev/null 2>&1
grep -qx "sni sni.example" "$out/py-server.out" || fail "no SNI for --tls-server-name"
passed=$((passed + 3))

# 4: the wrong CA: no echo, exit 1, OpenSSL's reason on stderr.
client --connect "tls://127.0.0.1:$tls_port" --tls-ca "$certs/other-ca.pem" \
  --count 1 --size 16 --timeout 2 >"$out/c3.out" 2>"$out/c3.err"
rc=$?
[ "$rc" = 1 ] || fail "client trusting another CA exited $rc"
[ "$(tail -1 "$out/c3.out")" = "1 sent, 0 echoed, 0 mismatched" ] \
  || fail "client trusting another CA said '$(tail -1 "$out/c3.out")'"
grep -q "tls_handshake_failed.*certificate verify failed" "$out/c3.err" \
  || fail "no handshake failure on stderr"
passed=$((passed + 1))

# 5: mutual TLS.
start_server mtls --listen tls://127.0.0.1:0 --tls-require-client-cert \
  --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" \
  --tls-ca "$certs/ca.pem"
client --connect "tls://127.0.0.1:$port" --tls-ca "$certs/ca.pem" \
  --count 1 --size 16 --timeout 2 >"$out/c4.out" 2>"$out/c4.err"
[ "$?" = 1 ] || fail "client without a certificate was served"
grep -q "tls_handshake_failed" "$out/c4.err" || fail "no handshake failure on stderr (mtls)"
client --connect "tls://127.0.0.1:$port" --tls-ca "$certs/ca.pem" \
  --tls-cert "$certs/client.pem" --tls-key "$certs/client.key" \
  --count 200 --size 64 --timeout 30 >"$out/c5.out" 2>"$out/c5.err" \
  || fail "client with a certificate exited $?"
passed=$((passed + 2))

echo "$passed passed, 0 failed"
