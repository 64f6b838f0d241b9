#!/usr/bin/env bash
# Installs the Debian packages the project needs (only those missing), then
# configures and builds everything into build/. Safe to run again: a second
# run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/install_missing.sh
# python3-websockets and chromium: the independent WebSocket peers of the
# interop and browser tests; nginx: the real server the HTTP client is
# tested against (the test starts its own, on a free port); ccache: a
# second build (a fresh clone too) reuses the objects of the first.
install_missing bootstrap cmake make g++ ccache pkg-config libcaf-dev libboost-dev libboost-test-dev \
  libssl-dev openssl python3 python3-websockets chromium nginx curl

build_type=${BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build build -j "$(nproc)"
