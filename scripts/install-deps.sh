#!/usr/bin/env bash
# Installs every Debian 12 package that steen's build, tests, demo and benchmarks need.
# Idempotent; Debian packages only (apt-get), no other downloads.
# Usage: scripts/install-deps.sh [--bench]   (--bench: also the benign writers only the benchmarks
# run, which are large and not needed by the build or the tests)
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang clang-format clang-tidy libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  libssl-dev zlib1g-dev libzstd-dev liblzma-dev libbz2-dev libbrotli-dev
  libwebp-dev  # tests: lossy WebP images made with every encoder option (VP8 frame parse)
  libsqlite3-dev libyaml-cpp-dev libsystemd-dev
  libsmbclient-dev  # steen drill smb://... (src/drill/smb_fs.cc: header at build, dlopen at run time)
  libnftables-dev  # steen watch: refuses a contained SMB client's reconnection (src/sys/client_blocker.cc)
)
# Tools the tests, the demo and the benchmarks call.
TOOL_PACKAGES=(
  xz-utils zstd bzip2 gzip zip unzip p7zip-full gnupg ccrypt openssl
  file ent yara hyperfine time
  fonts-dejavu-core
  ffmpeg
  apt-file sqlite3 python3  # bench/: corpus from Debian packages (apt-file), top-ups, evaluate.py
  rsyslog  # tests/e2e/outputs_rsyslog_test.sh: a real RFC 5424 receiver for the syslog sink
  procps strace  # tests/e2e/drill_processes_test.sh: pgrep for worker pids, pwrite64 tracing
  jq  # tests/e2e/incidents_cli_test.sh: checks steen incidents --format jsonl
  e2fsprogs util-linux coreutils  # tests/e2e/vault_faults_test.sh: mkfs.ext4, mount -o loop, flock, setsid, fallocate
  xfsprogs  # bench/vault_overhead.sh --loop xfs: mkfs.xfs (protective copies as reflinks)
  rsync make  # bench/vault_overhead.sh workloads rsync and compile (benign writers)
  samba smbclient iproute2 nftables  # tests/e2e/lib/samba_rig.sh: a private smbd, namespaces for two clients
  pigz libdeflate-tools zopfli tabix  # bench/gzip_encoders.sh: gzip files from other encoders
  webp  # bench/webp_encoders.sh: lossy WebP files from cwebp's options
)
# bench/vault_overhead.sh --workloads libreoffice (~400 MB installed; CI does not need it).
BENCH_PACKAGES=(
  libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
)
EXTRA_PACKAGES=()
case ${1:-} in
  "") ;;
  --bench) EXTRA_PACKAGES=("${BENCH_PACKAGES[@]}") ;;
  *) echo "usage: scripts/install-deps.sh [--bench]" >&2; exit 2 ;;
esac

if [[ ${EUID} -ne 0 ]]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
samba_was_installed=0
if dpkg-query -W -f='${Status}' samba 2>/dev/null | grep -q 'install ok installed'; then
  samba_was_installed=1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${BUILD_PACKAGES[@]}" "${TOOL_PACKAGES[@]}" \
  ${EXTRA_PACKAGES[@]+"${EXTRA_PACKAGES[@]}"} >/dev/null
if [[ ${samba_was_installed} -eq 0 ]] && command -v systemctl > /dev/null; then
  # Installed here for the test rig only: the package's postinst starts the system's smbd and
  # nmbd, which the tests never use (they run their own smbd on a private port and config).
  systemctl stop smbd nmbd samba-ad-dc 2>/dev/null || true
  systemctl disable smbd nmbd samba-ad-dc 2>/dev/null || true
fi
echo "install-deps: done"
