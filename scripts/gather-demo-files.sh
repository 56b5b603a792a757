#!/usr/bin/env bash
# Copies a mix of real files that Debian packages installed on this machine (documentation, images,
# fonts, executables, compressed files, time-zone data...) into DEST, and adds archives made from
# them with gzip, xz, zstd, zip, 7z and gpg (legitimate high-entropy files). Reads system files,
# writes only inside DEST.
set -euo pipefail
dest=${1:?usage: gather-demo-files.sh DEST [PER_KIND]}
per_kind=${2:-40}
mkdir -p "$dest"

# kind  find-expression (under /usr)
kinds=(
  "text     -path */doc/* -name copyright"
  "gz       -name *.gz -size +2k"
  "png      -name *.png -size +2k"
  "svg      -name *.svg"
  "font     ( -name *.ttf -o -name *.otf -o -name *.pfb )"
  "elf      -path */bin/* -type f -size +20k"
  "python   -name *.py -size +4k"
  "tzif     -path */zoneinfo/Europe/*"
  "html     -name *.html -size +2k"
  "xml      -name *.xml -size +2k"
  "json     -name *.json -size +1k"
  "mo       -name *.mo -size +2k"
  "jpeg     ( -name *.jpg -o -name *.jpeg )"
  "pdf      -name *.pdf"
  "zip      ( -name *.zip -o -name *.jar -o -name *.whl )"
)
for entry in "${kinds[@]}"; do
  read -r kind expr <<<"$entry"
  mkdir -p "$dest/$kind"
  # shellcheck disable=SC2086
  find /usr $expr -type f -readable 2>/dev/null | sort | awk -v n="$per_kind" 'NR % 7 == 1 && c < n { print; c++ }' |
    while IFS= read -r f; do
      cp --no-preserve=mode,ownership "$f" "$dest/$kind/$(basename "$f")" 2>/dev/null || true
    done
  rmdir "$dest/$kind" 2>/dev/null || true
done

# Legitimately high-entropy files made from the real ones: must never be reported as damaged.
mkdir -p "$dest/archives"
src_dir=$(ls -d "$dest"/text "$dest"/python 2>/dev/null | head -1)
if [[ -n "$src_dir" ]]; then
  tar -C "$dest" -cf "$dest/archives/docs.tar" "$(basename "$src_dir")"
  xz -k -T1 "$dest/archives/docs.tar"
  zstd -q -k "$dest/archives/docs.tar"
  gzip -k "$dest/archives/docs.tar"
  (cd "$dest" && zip -q -r "archives/docs.zip" "$(basename "$src_dir")")
  (cd "$dest" && 7z a -bd -bso0 "archives/docs.7z" "$(basename "$src_dir")")
  gnupg_home=$(mktemp -d)
  gpg --homedir "$gnupg_home" --batch --quiet --pinentry-mode loopback --passphrase demo \
    --symmetric -o "$dest/archives/docs.tar.gpg" "$dest/archives/docs.tar"
  rm -rf "$gnupg_home"
fi
find "$dest" -type f | wc -l | xargs echo "gather-demo-files: files:"
