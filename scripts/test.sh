#!/usr/bin/env bash
# The README's test command: set up (Debian packages, build), then
#  1. the suite under AddressSanitizer + UndefinedBehaviorSanitizer (see -E),
#  2. the frame decoder fuzzer for 30 s (clang/libFuzzer),
#  3. the whole suite in the normal build (its summary closes the output).
# Any failure stops the run with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

# Each stage says how long it took: the suite must stay well under 15
# minutes on a clean clone of a 2-core machine.
stage() { echo "   ($1: $((SECONDS - t0)) s)"; t0=$SECONDS; }
t0=$SECONDS
scripts/bootstrap.sh
stage "packages and the build"

echo "== ASan+UBSan suite =="
# The library optimised, as ASan is meant to run (at -O0 the timing tests'
# short heartbeats see healthy links as stuck on a busy 2-core machine), at
# -O1 with line tables only (-g1: enough for the sanitizers' stack traces):
# instrumented -O2 -g took 8.7 min of a 2-core machine to build, -O1 -g1
# about 2.6x less (wire_test.cpp: 52 s -> 20 s). The tests and examples,
# which only drive it, at -O0 -g1: about 3x faster to build again
# (connection_actor_test.cpp: 59 s -> 18 s).
# Benchmarks and the soak run in the normal stage only: not built here.
cmake -S . -B build-asan -DNETASYNC_SANITIZE=address \
  -DNETASYNC_BENCHMARKS=OFF -DNETASYNC_SOAK=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1 -DNDEBUG" \
  -DNETASYNC_LIBRARY_FLAGS="-O1" >/dev/null
cmake --build build-asan -j "$jobs" >/dev/null
stage "sanitizer build"
log=build-asan/ctest.log
# process_faults_test kills and restarts processes for process-level timing;
# it runs in the normal stage below. The loopback suite runs here over tcp://
# and ws:// only: its tls:// and wss:// runs repeat the same cases over the
# TLS stream (84 s under ASan, serial), whose code tls_test,
# tls_programs_test and ws_interop_test's wss runs cover here; the normal
# stage runs all four.
if ! ctest --test-dir build-asan --output-on-failure -j 2 \
    -E 'process_faults|loopback_tls_test|loopback_wss_test' \
    >"$log" 2>&1; then
  cat "$log"
  echo "ASan+UBSan suite failed"
  exit 1
fi
grep -E "tests passed|Total Test time" "$log"
stage "sanitizer suite"

if [ -x scripts/fuzz.sh ]; then
  echo "== frame decoder fuzzer, 30 s =="
  scripts/fuzz.sh 30
  stage "fuzzer"
fi

echo "== suite =="
ctest --test-dir build --output-on-failure -j 2
