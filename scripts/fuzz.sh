#!/usr/bin/env bash
# Fuzzes the frame decoder with libFuzzer for SECONDS (default 30).
#
#   scripts/fuzz.sh [SECONDS] [libFuzzer flags...]
#
# Installs clang-14 and libclang-rt-14-dev (and the CAF headers) if missing,
# builds tests/fuzz/frame_decoder_fuzzer.cpp with
# -fsanitize=fuzzer,address,undefined into build-fuzz/, replays the saved
# reproducers in tests/fuzz/regressions/, then fuzzes a scratch copy of
# tests/fuzz/seeds/ (the committed seeds are never written). Exits non-zero on
# any crash, leak, sanitizer finding, timeout or invariant violation; the
# offending input lands in build-fuzz/artifacts/. Extra flags go to libFuzzer,
# e.g. `scripts/fuzz.sh 600 -runs=10000000`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
case $seconds in
  '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

. scripts/install_missing.sh
install_missing fuzz.sh clang-14 libclang-rt-14-dev g++ libcaf-dev

out=build-fuzz
bin=$out/frame_decoder_fuzzer
sources=(tests/fuzz/frame_decoder_fuzzer.cpp libnetasync-caf/src/error.cpp)
mkdir -p "$out"

# Rebuild when the binary is missing or older than the fuzzer, error.cpp, any
# library header or this script.
if [ ! -x "$bin" ] \
   || [ -n "$(find "${sources[@]}" libnetasync-caf/netasync libnetasync-caf/src/wire scripts/fuzz.sh \
                -newer "$bin" -print -quit)" ]; then
  echo "fuzz.sh: building $bin"
  clang++-14 -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -D_GLIBCXX_ASSERTIONS -Wall -Wextra \
    -I libnetasync-caf -I libnetasync-caf/src \
    "${sources[@]}" -lcaf_core -o "$bin"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Common flags: inputs up to 4 KiB, 5 s per input is a hang, and no single
# allocation above 16 MiB (the fuzzer itself also bounds every allocation by
# what was fed; see (d) in frame_decoder_fuzzer.cpp).
flags=(-max_len=4096 -timeout=5 -malloc_limit_mb=16 -rss_limit_mb=2048
       -artifact_prefix="$out/artifacts/" -print_final_stats=1)
mkdir -p "$out/artifacts"

# Saved reproducers must stay fixed.
regressions=(tests/fuzz/regressions/*)
if [ -e "${regressions[0]}" ]; then
  echo "fuzz.sh: replaying ${#regressions[@]} regression input(s)"
  "$bin" "${flags[@]}" "${regressions[@]}"
fi

# Scratch corpus: a fresh copy of the seeds (and regressions) each run.
corpus=$out/corpus
rm -rf "$corpus"
mkdir -p "$corpus"
cp tests/fuzz/seeds/* "$corpus"/
if [ -e "${regressions[0]}" ]; then cp "${regressions[@]}" "$corpus"/; fi

log=$out/fuzz.log
stamp=$out/.fuzz-start
touch "$stamp"
echo "fuzz.sh: fuzzing for ${seconds}s (log: $log)"
rc=0
"$bin" "${flags[@]}" -max_total_time="$seconds" "$@" "$corpus" 2>&1 | tee "$log" || rc=$?

echo "----"
grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" || true
grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 || true
grep -E '^stat::' "$log" || true
crashes=$(find "$out/artifacts" -type f -newer "$stamp" | wc -l)
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
  echo "fuzz.sh: FAILED (exit $rc, $crashes new artifact(s) in $out/artifacts)" >&2
  if [ "$rc" -eq 0 ]; then rc=1; fi
  exit "$rc"
fi
echo "fuzz.sh: no crash"
