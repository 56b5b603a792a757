#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for SECONDS (default 10) from its
# seed corpus (fuzz/corpus/<name>, copied to a scratch folder so new inputs do not dirty the tree).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true
build_log=$(mktemp /tmp/steen-fuzz-build.XXXXXX)
# ninja prints compiler errors on stdout: keep them, and show them when the build fails.
if ! { cmake --preset fuzz && cmake --build --preset fuzz -j "$(nproc)"; } >"$build_log" 2>&1; then
  echo "fuzz: the fuzz build (clang) failed:" >&2
  grep -E "error|FAILED" "$build_log" | head -20 >&2
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"
mapfile -t targets < <(if [[ $# -gt 0 ]]; then printf '%s\n' "$@"; else
  find build/fuzz/fuzz -maxdepth 1 -type f -name '*_fuzzer' -printf '%f\n' | sort; fi)
scratch=$(mktemp -d /tmp/steen-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failed=0
for target in "${targets[@]}"; do
  name=${target%_fuzzer}
  mkdir -p "$scratch/$name"
  if [[ -d fuzz/corpus/$name ]]; then cp -r "fuzz/corpus/$name/." "$scratch/$name/"; fi
  if build/fuzz/fuzz/"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=0 "$scratch/$name" >"$scratch/$name.log" 2>&1; then
    echo "fuzz: $target ok ($(grep -c '' "$scratch/$name.log") log lines)"
  else
    echo "fuzz: $target FAILED"; tail -40 "$scratch/$name.log"; failed=1
  fi
done
exit $failed
