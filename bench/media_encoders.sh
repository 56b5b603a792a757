#!/usr/bin/env bash
# False positives on media that real encoders write: ffmpeg's video, audio and image encoders and
# muxers (VP8/VP9/AV1/HEVC/H.264/ProRes/MJPEG/MPEG-2/Theora/FFV1/WMV in WebM, MP4 (faststart and
# fragmented), MOV, AVI, MPEG-PS/TS, Matroska, Ogg, FLV, ASF; AAC, ALAC, Opus, Vorbis, FLAC,
# float/24-bit/ADPCM WAV, AIFF, MP3 VBR/CBR, AC-3, WavPack, AU, CAF; PNG 8/16-bit/palette, JPEG,
# TIFF deflate/LZW/PackBits/raw, BMP, TGA, PPM, PGM, PAM, PFM, WebP lossless/lossy/animated, GIF,
# APNG, JPEG 2000, DPX, SGI, PCX, QOI, EXR, JPEG XL), made from ffmpeg's test sources. None of
# them is damaged: every "damaged" verdict is a false positive. Encoders this ffmpeg lacks are
# skipped.
#
# Usage: bench/media_encoders.sh [--steen PATH] [--out DIR]      About a minute on 2 cores.
set -euo pipefail
. "$(dirname "$0")/fp_battery.sh"
fp_options media_encoders "$@"
command -v ffmpeg > /dev/null || { echo "media_encoders: ffmpeg not installed" >&2; exit 2; }
rm -rf "$OUT"
M=$OUT/media
mkdir -p "$M"
SKIPPED=()
make() {  # make NAME FFMPEG-ARGS...: NAME is written under $M
  local name=$1
  shift
  ffmpeg -hide_banner -loglevel error -y "$@" "$M/$name" 2> /dev/null || {
    rm -f "$M/$name"
    SKIPPED+=("$name")
  }
}
AV=(-f lavfi -i testsrc2=size=640x360:rate=25:duration=3 -f lavfi -i sine=frequency=440:duration=3)
AUDIO=(-f lavfi -i sine=frequency=330:duration=4)
CLIP=(-f lavfi -i testsrc2=size=320x240:rate=10:duration=1)
PICTURE=(-f lavfi -i mandelbrot=size=800x600 -frames:v 1)

make vp9-opus.webm "${AV[@]}" -c:v libvpx-vp9 -b:v 500k -c:a libopus
make vp8-vorbis.webm "${AV[@]}" -c:v libvpx -c:a libvorbis
make hevc-aac.mp4 "${AV[@]}" -c:v libx265 -c:a aac
make h264-faststart.mp4 "${AV[@]}" -c:v libx264 -c:a aac -movflags +faststart
make h264-fragmented.mp4 "${AV[@]}" -c:v libx264 -c:a aac -movflags frag_keyframe+empty_moov
make prores.mov "${AV[@]}" -c:v prores_ks -c:a pcm_s16le
make mjpeg.avi "${AV[@]}" -c:v mjpeg -c:a pcm_s16le
make mpeg4-mp3.avi "${AV[@]}" -c:v mpeg4 -c:a libmp3lame
make mpeg2.mpg "${AV[@]}" -c:v mpeg2video -c:a mp2
make h264.ts "${AV[@]}" -c:v libx264 -c:a aac -f mpegts
make ffv1-flac.mkv "${AV[@]}" -c:v ffv1 -c:a flac
make h264-ac3.mkv "${AV[@]}" -c:v libx264 -c:a ac3
make theora.ogv "${AV[@]}" -c:v libtheora -c:a libvorbis
make flv.flv "${AV[@]}" -c:v flv -c:a libmp3lame
make wmv.wmv "${AV[@]}" -c:v wmv2 -c:a wmav2
make av1.mkv "${AV[@]}" -c:v libaom-av1 -cpu-used 8 -b:v 300k -an
make aac.m4a "${AUDIO[@]}" -c:a aac
make alac.m4a "${AUDIO[@]}" -c:a alac
make opus.opus "${AUDIO[@]}" -c:a libopus
make vorbis.ogg "${AUDIO[@]}" -c:a libvorbis
make flac12.flac "${AUDIO[@]}" -c:a flac -compression_level 12
make flac0.flac "${AUDIO[@]}" -c:a flac -compression_level 0
make float.wav "${AUDIO[@]}" -c:a pcm_f32le
make s24.wav "${AUDIO[@]}" -c:a pcm_s24le
make adpcm.wav "${AUDIO[@]}" -c:a adpcm_ima_wav
make s16be.aiff "${AUDIO[@]}" -c:a pcm_s16be
make vbr.mp3 "${AUDIO[@]}" -c:a libmp3lame -q:a 2
make cbr320.mp3 "${AUDIO[@]}" -c:a libmp3lame -b:a 320k
make ac3-44k.ac3 "${AUDIO[@]}" -c:a ac3
make eac3.eac3 "${AUDIO[@]}" -c:a eac3
make wavpack.wv "${AUDIO[@]}" -c:a wavpack
make mulaw.au "${AUDIO[@]}" -c:a pcm_mulaw
make opus.mka "${AUDIO[@]}" -c:a libopus
make alaw.caf "${AUDIO[@]}" -c:a pcm_alaw -f caf
make rgb.png "${PICTURE[@]}"
make rgb48.png "${PICTURE[@]}" -pix_fmt rgb48be
make palette.png "${PICTURE[@]}" -pix_fmt pal8
make q2.jpg "${PICTURE[@]}" -q:v 2
make gray.jpg "${PICTURE[@]}" -pix_fmt gray
for c in deflate lzw packbits raw; do make "$c.tiff" "${PICTURE[@]}" -compression_algo "$c"; done
make bmp.bmp "${PICTURE[@]}"
make tga.tga "${PICTURE[@]}"
make ppm.ppm "${PICTURE[@]}"
make gray.pgm "${PICTURE[@]}" -pix_fmt gray
make pam.pam "${PICTURE[@]}" -c:v pam
make float.pfm "${PICTURE[@]}" -c:v pfm -pix_fmt gbrpf32le
make lossless.webp "${PICTURE[@]}" -c:v libwebp -lossless 1
make lossy.webp "${PICTURE[@]}" -c:v libwebp -quality 80
make animated.webp "${CLIP[@]}" -c:v libwebp -loop 0
make clip.gif "${CLIP[@]}"
make clip.apng "${CLIP[@]}" -plays 0 -f apng
make j2k.jp2 "${PICTURE[@]}" -c:v jpeg2000
make openjpeg.j2k "${PICTURE[@]}" -c:v libopenjpeg
make dpx.dpx "${PICTURE[@]}" -c:v dpx
make sgi.sgi "${PICTURE[@]}" -c:v sgi
make pcx.pcx "${PICTURE[@]}" -c:v pcx
make qoi.qoi "${PICTURE[@]}" -c:v qoi
make exr.exr "${PICTURE[@]}" -c:v exr
make mjpeg.mjpeg "${CLIP[@]}" -c:v mjpeg -f mjpeg
make jxl.jxl "${PICTURE[@]}" -c:v libjxl

fp_scan "$M"
echo "Skipped (encoder missing): ${SKIPPED[*]:-none}."
