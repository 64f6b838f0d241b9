#!/usr/bin/env bash
# The README's benchmark command: installs the missing Debian packages the
# benchmarks need (libzmq3-dev, gnuplot-nox, python3; apache2-utils and nginx
# for the HTTP figures), builds everything into
# build/ (scripts/bootstrap.sh; the benchmark programs are part of that
# build), then runs benchmarks/run.py with this script's arguments, e.g.
#   scripts/bench.sh                 # 3 rounds; rewrites docs/benchmarks.md
#   scripts/bench.sh --quick         # 1 short round; leaves docs/ alone
# Results: build/bench/results.csv, docs/benchmarks.md, docs/benchmarks/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/install_missing.sh
install_missing bench libzmq3-dev gnuplot-nox python3 apache2-utils nginx

# A build/ configured before libzmq was installed remembers that it was not
# found (pkg-config results are cached): forget that, so that
# netasync-bench-zmq is configured and built now.
if [ -f build/CMakeCache.txt ] && ! grep -q '^ZMQ_FOUND:INTERNAL=1$' build/CMakeCache.txt; then
  cmake -S . -B build -U '__pkg_config_checked_ZMQ' -U 'ZMQ_*' -U 'pkgcfg_lib_ZMQ_*' >/dev/null
fi

scripts/bootstrap.sh

export NETASYNC_BENCH_VIA="scripts/bench.sh${*:+ $*}"
exec python3 benchmarks/run.py "$@"
