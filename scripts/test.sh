#!/usr/bin/env bash
# Installs what is missing, builds the debug and asan (ASan+UBSan) configurations and runs every
# test of both under ctest. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${EUID} -eq 0 ]]; then
  ./scripts/install-deps.sh
else
  sudo ./scripts/install-deps.sh
fi

jobs=$(nproc)
for preset in debug asan; do
  echo "== ${preset}: configure and build"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}" -j "${jobs}"
  echo "== ${preset}: test"
  ctest --preset "${preset}" -j "${jobs}"
done
