#!/usr/bin/env bash
# Process faults with the shipped programs (build/bin): the echo server is
# killed with SIGKILL and restarted on the same port 20 times during one
# pipelined echo-client run; the server is frozen with SIGSTOP (a half-open
# peer: its sockets stay open, nothing is answered) and the client must detect
# it through its heartbeat timeout, then finish once the server is continued,
# or killed and restarted.
#
#   process_faults_test.sh BIN_DIR
#
# 127.0.0.1 only; the first server's port is picked by the kernel (--port 0),
# restarts bind the same port. Every wait is bounded; every process started
# here is killed by PID on exit, whatever happens. Last line:
# "N passed, M failed"; exit status non-zero if any test failed.
set -u
bin=${1:?usage: $0 BIN_DIR}
out=$(mktemp -d)
# The live processes, by PID; each variable is cleared once its process is
# reaped, so a recycled PID is never signalled.
server_pid=
client_pid=
cleanup() {
  local p
  for p in $server_pid $client_pid; do
    kill -CONT "$p" 2>/dev/null
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Heartbeats every 100 ms on both sides: a silent link is dropped after 400 ms.
hb=100
hb_timeout=$((4 * hb))

server_port=
server_n=0
# start_server PORT: starts an echo server, waits (at most 10 s) for its
# "listening on" line; sets server_pid and server_port.
start_server() {
  server_n=$((server_n + 1))
  local so="$out/server-$server_n.out" se="$out/server-$server_n.err"
  "$bin/netasync-echo-server" --host 127.0.0.1 --port "$1" \
    --heartbeat-period "$hb" >"$so" 2>"$se" &
  server_pid=$!
  local i line
  for i in $(seq 200); do
    grep -q '^listening on ' "$so" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  line=$(head -1 "$so")
  if [[ ! "$line" =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
    echo "  server #$server_n did not start on port $1: '$line'; stderr:"
    tail -3 "$se" | sed 's/^/    /'
    return 1
  fi
  server_port=${BASH_REMATCH[1]}
}

# kill_server: SIGKILLs the server and reaps it.
kill_server() {
  kill -KILL "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=
}

# start_client COUNT NAME: a pipelined echo client in the background.
start_client() {
  "$bin/netasync-echo-client" --host 127.0.0.1 --port "$server_port" \
    --count "$1" --size 100 --timeout 120 --reconnect-period 100 \
    --heartbeat-period "$hb" >"$out/$2.out" 2>"$out/$2.err" &
  client_pid=$!
}

# wait_client SECONDS: waits for the client to exit and reaps it; sets
# client_rc to its exit status (124 if it had to be killed at the bound).
client_rc=
wait_client() {
  local deadline=$(($(now_ms) + $1 * 1000))
  while kill -0 "$client_pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
    sleep 0.05
  done
  if kill -0 "$client_pid" 2>/dev/null; then
    kill -KILL "$client_pid" 2>/dev/null
    wait "$client_pid" 2>/dev/null
    client_rc=124
  else
    wait "$client_pid"
    client_rc=$?
  fi
  client_pid=
}

count_lines() { # count_lines PATTERN FILE
  local n
  n=$(grep -c -- "$1" "$2" 2>/dev/null)
  echo "${n:-0}"
}

# wait_for_lines PATTERN FILE N SECONDS: true once FILE has N matching lines.
wait_for_lines() {
  local deadline=$(($(now_ms) + $4 * 1000))
  while [ "$(count_lines "$1" "$2")" -lt "$3" ]; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    kill -0 "$client_pid" 2>/dev/null || return 1
    sleep 0.01
  done
}

show_client() {
  echo "  client stdout: $(tail -1 "$out/$1.out" 2>/dev/null)"
  echo "  client stderr (last 5 lines):"
  tail -5 "$out/$1.err" 2>/dev/null | sed 's/^/    /'
}

# The client's final line and exit status, checked.
check_client_finished() { # NAME COUNT RC
  local last
  last=$(tail -1 "$out/$1.out" 2>/dev/null)
  if [ "$3" != 0 ] || [ "$last" != "$2 sent, $2 echoed, 0 mismatched" ]; then
    echo "  client exited $3 with '$last'"
    return 1
  fi
  grep -h 'messages/s' "$out/$1.err" | tail -1 | sed 's/^/  /'
}

run_test() {
  local name=$1 t0 rc
  shift
  echo "--- $name"
  t0=$(now_ms)
  "$@"
  rc=$?
  # Whatever the test left running goes now (a stopped server too).
  local p
  for p in $client_pid $server_pid; do
    kill -CONT "$p" 2>/dev/null
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  client_pid=
  server_pid=
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    echo "PASS: $name ($(($(now_ms) - t0)) ms)"
  else
    failed=$((failed + 1))
    echo "FAIL: $name ($(($(now_ms) - t0)) ms)"
  fi
}

# -- (a) SIGKILL and restart, 20 times, during one client run ----------------

# 1,000,000 messages of 100 B: about 6 s undisturbed on a 2-core machine, far
# longer than 20 kill/restart rounds of traffic take, so every kill lands
# while the run is in progress (checked below).
kills=20
sigkill_count=1000000
test_sigkill_restart_20_times() {
  start_server 0 || return 1
  local port=$server_port k
  start_client "$sigkill_count" sigkill
  for k in $(seq "$kills"); do
    # Kill once the client is on the current server and traffic flows.
    if ! wait_for_lines '^\[client\] connected$' "$out/sigkill.err" "$k" 10; then
      echo "  round $k: the client did not (re)connect within 10 s"
      show_client sigkill
      return 1
    fi
    sleep 0.05
    kill_server
    start_server "$port" || return 1
  done
  wait_client 120
  check_client_finished sigkill "$sigkill_count" "$client_rc" || { show_client sigkill; return 1; }
  local connects disconnects
  connects=$(count_lines '^\[client\] connected$' "$out/sigkill.err")
  disconnects=$(count_lines '^\[client\] disconnected: ' "$out/sigkill.err")
  echo "  $kills kills; client: $connects connects, $disconnects disconnected statuses"
  # Every kill happened during the run: one more link than kills.
  if [ "$connects" -lt $((kills + 1)) ]; then
    echo "  expected at least $((kills + 1)) connects"
    return 1
  fi
}

# -- (b), (c) SIGSTOP: a half-open server --------------------------------------

stop_count=1000000
# freeze_server NAME: with a client run under way, stops the server and
# checks that the client reports a heartbeat_timeout within the bound.
freeze_server() {
  local name=$1 before t0 t1 elapsed
  if ! wait_for_lines '^\[client\] connected$' "$out/$name.err" 1 10; then
    echo "  the client did not connect within 10 s"
    show_client "$name"
    return 1
  fi
  sleep 0.3 # traffic flows
  if ! kill -0 "$client_pid" 2>/dev/null; then
    echo "  the client finished before the server was stopped"
    return 1
  fi
  before=$(count_lines 'disconnected: netasync::heartbeat_timeout' "$out/$name.err")
  kill -STOP "$server_pid"
  t0=$(now_ms)
  # Bound: 5 x the heartbeat timeout. The stuck check fires one timeout after
  # the last byte received; the rest is scheduling slack.
  if ! wait_for_lines 'disconnected: netasync::heartbeat_timeout' "$out/$name.err" \
       $((before + 1)) $((5 * hb_timeout / 1000 + 1)); then
    echo "  no heartbeat_timeout within the bound"
    show_client "$name"
    return 1
  fi
  t1=$(now_ms)
  elapsed=$((t1 - t0))
  echo "  SIGSTOP -> client heartbeat_timeout after $elapsed ms (timeout $hb_timeout ms)"
  grep -m1 'disconnected: netasync::heartbeat_timeout' "$out/$name.err" | sed 's/^/  /'
  if [ "$elapsed" -gt $((5 * hb_timeout)) ]; then
    echo "  detected after $elapsed ms, more than $((5 * hb_timeout)) ms"
    return 1
  fi
}

test_sigstop_detected_then_sigcont_client_finishes() {
  start_server 0 || return 1
  start_client "$stop_count" stopcont
  freeze_server stopcont || return 1
  sleep 0.5 # stays frozen through more reconnect attempts
  kill -CONT "$server_pid"
  wait_client 120
  check_client_finished stopcont "$stop_count" "$client_rc" || { show_client stopcont; return 1; }
  echo "  client: $(count_lines '^\[client\] connected$' "$out/stopcont.err") connects," \
       "$(count_lines 'heartbeat_timeout' "$out/stopcont.err") heartbeat_timeout disconnects"
}

test_sigstop_detected_then_kill_and_restart_client_finishes() {
  start_server 0 || return 1
  local port=$server_port
  start_client "$stop_count" stopkill
  freeze_server stopkill || return 1
  sleep 0.5
  kill_server # SIGKILL ends a stopped process too
  start_server "$port" || return 1
  wait_client 120
  check_client_finished stopkill "$stop_count" "$client_rc" || { show_client stopkill; return 1; }
  echo "  client: $(count_lines '^\[client\] connected$' "$out/stopkill.err") connects," \
       "$(count_lines 'heartbeat_timeout' "$out/stopkill.err") heartbeat_timeout disconnects"
}

for prog in netasync-echo-server netasync-echo-client; do
  if [ ! -x "$bin/$prog" ]; then
    echo "FAIL: $bin/$prog is missing"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

run_test "server SIGKILLed and restarted on its port $kills times during one client run" \
  test_sigkill_restart_20_times
run_test "server SIGSTOPped: client detects heartbeat_timeout, finishes after SIGCONT" \
  test_sigstop_detected_then_sigcont_client_finishes
run_test "server SIGSTOPped: client detects heartbeat_timeout, finishes after SIGKILL and restart" \
  test_sigstop_detected_then_kill_and_restart_client_finishes

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
