#!/usr/bin/env bash
# WebP files from libwebp's encoder options, intact and damaged: what the parse of their pictures
# to their ends finds (docs/design/content.md, "A WebP picture's end").
# Sources: corpus pictures (bench/corpus: JPEG and PNG files from about 20 KB to 6 MB) and an RGBA
# test picture with a transparency gradient. Encoders: cwebp at qualities 5-100, methods 0 and 6,
# one segment, no noise shaping or filter, sharpness 7, the simple filter, auto-filter, 10 passes,
# a target size, sharp YUV, the photo/text/icon presets, metadata kept (VP8X), lossless (-z 6 and
# 9, near-lossless), an alpha plane; ffmpeg's libwebp; animations from img2webp and gif2webp
# (scripts/install-deps.sh installs webp). Layouts: bench/layouts.py (intact, footer, cut, tail
# 64 B and 4 KiB, 64 KiB at the middle, everything after 4 KiB, 16 of every 32 bytes after 4 KiB,
# bit flip after 4 KiB). Scanned by default and with --verify (pictures larger than
# limits::kMaxWebpCheckBytes, and an animation's earlier frames, are parsed only then).
#
# Usage: bench/webp_encoders.sh [--steen PATH] [--old PATH] [--out DIR]
#   --old PATH  also scan with another steen binary, side by side (before/after a change)
set -euo pipefail
. "$(dirname "$0")/fp_battery.sh"
fp_options webp_encoders "$@"
CORPUS=$ROOT/bench/corpus
[[ -d $CORPUS ]] || { echo "webp_encoders: no corpus (bench/build_corpus.sh)" >&2; exit 2; }
for tool in cwebp img2webp gif2webp ffmpeg; do
  command -v $tool > /dev/null || { echo "webp_encoders: $tool missing (scripts/install-deps.sh)" >&2; exit 2; }
done
rm -rf "$OUT"
mkdir -p "$OUT/src" "$OUT/webp" "$OUT/frames"

# Sources: the corpus pictures closest to each size, JPEG and PNG (cwebp reads both).
python3 - "$CORPUS" "$OUT/src" << 'EOF'
import os, shutil, sys
corpus, out = sys.argv[1], sys.argv[2]
pictures = []
for kind in ('jpeg', 'png'):
    for folder, _, names in os.walk(os.path.join(corpus, kind)):
        for n in sorted(names):
            p = os.path.join(folder, n)
            pictures.append((os.path.getsize(p), kind, p))
pictures.sort()
for kind, sizes in (('jpeg', (20e3, 100e3, 500e3, 2e6, 6e6)), ('png', (50e3, 400e3, 2e6))):
    own = [p for p in pictures if p[1] == kind]
    for i, target in enumerate(sizes):
        size, _, path = min(own, key=lambda p: abs(p[0] - target))
        shutil.copy(path, os.path.join(out, f'{kind}{i}.{"jpg" if kind == "jpeg" else "png"}'))
EOF
# A picture with a transparency gradient (the alpha plane: ALPH chunks, VP8L alpha).
ffmpeg -v error -y -f lavfi -i "testsrc2=size=800x600,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='X*255/W'" \
  -frames:v 1 "$OUT/src/rgba.png"

ENCODERS=()
encode() {  # encode NAME CWEBP-OPTIONS...: every source picture
  local name=$1 src base
  shift
  for src in "$OUT"/src/*; do
    base=$(basename "${src%.*}")
    cwebp -quiet "$@" "$src" -o "$OUT/webp/$base.$name.webp" 2> /dev/null || rm -f "$OUT/webp/$base.$name.webp"
  done
  ENCODERS+=("$name")
}
encode q75
encode q5 -q 5
encode q95 -q 95
encode q100 -q 100
encode m0 -m 0
encode m6 -m 6
encode seg1 -segments 1
encode sns0-f0 -sns 0 -f 0
encode sharp7-simple -sharpness 7 -nostrong
encode af -af
encode pass10 -pass 10 -psnr 40
encode size -size 40000
encode sharp-yuv -sharp_yuv
encode photo -preset photo
encode text -preset text
encode icon -preset icon
encode metadata -metadata all
encode lossless -lossless
encode lossless-z9 -lossless -z 9
encode near-lossless -near_lossless 60
encode alpha-q50 -q 80 -alpha_q 50 -alpha_filter best
for src in "$OUT"/src/*; do
  base=$(basename "${src%.*}")
  ffmpeg -v error -y -i "$src" -c:v libwebp -quality 80 "$OUT/webp/$base.ffmpeg.webp" || true
done
ENCODERS+=(ffmpeg)
# Animations: three frames of each picture at 480x360 (img2webp), and corpus GIFs (gif2webp).
for src in "$OUT"/src/*; do
  base=$(basename "${src%.*}")
  for i in 0 1 2; do
    ffmpeg -v error -y -i "$src" -vf "scale=480:360,hue=h=$((i * 40))" -frames:v 1 \
      "$OUT/frames/$base-$i.png" || true
  done
  img2webp -lossy -q 70 -d 100 "$OUT"/frames/"$base"-*.png -o "$OUT/webp/$base.img2webp.webp" \
    > /dev/null 2>&1 || true
done
ENCODERS+=(img2webp)
find "$CORPUS/gif" -type f -size +20k | sort | head -6 | while read -r gif; do
  gif2webp -lossy -q 70 "$gif" -o "$OUT/webp/$(basename "${gif%.*}").gif2webp.webp" > /dev/null 2>&1 || true
done
ENCODERS+=(gif2webp)
echo "webp_encoders: $(ls "$OUT/webp" | wc -l) files, $(du -sh "$OUT/webp" | cut -f1)" >&2

python3 "$ROOT/bench/layouts.py" damage "$OUT/webp" "$OUT" intact footer-1064 cut-3/4 tail-64 \
  tail-4k mid-64k keep-4k stride-16of32-after-4k bitflip-after-4k

scan() {  # scan NAME BINARY [OPTION]: the scan's wall time on stdout
  local name=$1 binary=$2 start end
  shift 2
  start=$(date +%s.%N)
  "$binary" scan --format jsonl "$@" "$OUT/files" > "$OUT/scan-$name.jsonl" || true
  end=$(date +%s.%N)
  printf '%s %.2f s; ' "$name" "$(echo "$end - $start" | bc)"
}
SCANS=(default="$OUT/scan-default.jsonl" verify="$OUT/scan-verify.jsonl")
times=$(scan default "$STEEN")$(scan verify "$STEEN" --verify)
if [[ -n $OLD ]]; then
  times+=$(scan before "$OLD")
  SCANS+=(before="$OUT/scan-before.jsonl")
fi
echo "Encoders: ${ENCODERS[*]}. Scans of all files: ${times%; }."
echo
python3 "$ROOT/bench/layouts.py" report "$OUT" "${SCANS[@]}"
