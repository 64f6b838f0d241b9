#!/usr/bin/env bash
# An application outside the source tree, built against the installed
# library as a user would build it: `cmake --install` of this build into a
# temporary prefix, then tests/consumer/ with find_package (only
# CMAKE_PREFIX_PATH says where) and the same client with pkg-config alone.
# Both run against the installed echo server. Every wait is bounded; the
# server is stopped by PID whatever happens.
set -u
build=$1
src=$2
out=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$out"/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

prefix=$out/prefix
cmake --install "$build" --prefix "$prefix" >"$out/install.log" 2>&1 \
  || fail "cmake --install"
# Nothing private is installed: the public headers only.
[ -f "$prefix/include/netasync/all.hpp" ] || fail "no public headers"
[ -z "$(find "$prefix/include" -name '*.hpp' ! -path '*/netasync/*')" ] \
  || fail "headers outside netasync/ installed"
libdir=$(dirname "$(find "$prefix" -name 'libnetasync-caf.so.0' -print -quit)")
[ -n "$libdir" ] && [ "$libdir" != . ] || fail "no libnetasync-caf.so.0 installed"

"$prefix/bin/netasync-echo-server" --listen tcp://127.0.0.1:0 \
  >"$out/server.out" 2>"$out/server.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$out/server.out" && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$out/server.out" | head -1)
[[ "$url" =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]] || fail "server printed '$(cat "$out/server.out")'"

# 1. CMake: find_package(netasync-caf 0.2 CONFIG REQUIRED).
cmake -S "$src/tests/consumer" -B "$out/cmake-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$out/cmake-configure.log" 2>&1 || fail "consumer configure"
cmake --build "$out/cmake-build" >"$out/cmake-build.log" 2>&1 \
  || fail "consumer build"
timeout 30 "$out/cmake-build/consumer" "$url" >"$out/cmake-run.log" 2>&1 \
  || fail "consumer (CMake) exited $?"
grep -qx echoed "$out/cmake-run.log" || fail "consumer (CMake) not echoed"
echo "find_package consumer: echoed"

# 2. pkg-config alone.
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs netasync-caf) \
  || fail "pkg-config"
# shellcheck disable=SC2086
g++ -std=c++17 -O1 "$src/tests/consumer/client.cpp" $flags \
  -Wl,-rpath,"$libdir" -o "$out/pc-consumer" >"$out/pc-build.log" 2>&1 \
  || fail "pkg-config build: g++ ... $flags"
timeout 30 "$out/pc-consumer" "$url" >"$out/pc-run.log" 2>&1 \
  || fail "consumer (pkg-config) exited $?"
grep -qx echoed "$out/pc-run.log" || fail "consumer (pkg-config) not echoed"
echo "pkg-config consumer: echoed ($flags)"

kill -TERM "$server_pid"
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
wait "$server_pid" || fail "server exited $?"
server_pid=
