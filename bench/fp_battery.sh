# Shared by the false-positive batteries (archive_options.sh, media_encoders.sh, app_data.sh) and
# the encoder benches (gzip_encoders.sh, webp_encoders.sh): their options, and the scan of what
# the batteries built with its Markdown summary. Sourced, not run.
#
# fp_options NAME "$@": parses --steen PATH, --out DIR (default bench/out/NAME), --old PATH (a
# second binary scanned side by side, where the script offers it) and --help (the calling
# script's header comment); sets ROOT, STEEN, OUT, OLD and FP_NAME.
fp_options() {
  FP_NAME=$1
  shift
  ROOT=$(cd "$(dirname "$0")/.." && pwd)
  STEEN=$ROOT/build/release/steen
  OUT=$ROOT/bench/out/$FP_NAME
  OLD=
  while [[ $# -gt 0 ]]; do
    case $1 in
      --steen) STEEN=$2; shift 2 ;;
      --out) OUT=$2; shift 2 ;;
      --old) OLD=$2; shift 2 ;;
      -h|--help) sed -n '2,/^set -/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) echo "$FP_NAME: unknown option $1" >&2; exit 2 ;;
    esac
  done
  [[ -x $STEEN ]] || { echo "$FP_NAME: no steen at $STEEN" >&2; exit 2; }
}

# fp_scan DIR [APART_SUFFIX [WHY]]: scans DIR into $OUT/scan.jsonl and prints the counts and every
# file not intact. Files ending in APART_SUFFIX are counted apart, for the reason WHY.
fp_scan() {
  local dir=$1 apart=${2:-} why=${3:-}
  local rc=0
  "$STEEN" scan --format jsonl --no-progress "$dir" > "$OUT/scan.jsonl" || rc=$?
  [[ $rc -le 1 ]] || { echo "$FP_NAME: steen scan exited $rc" >&2; exit 2; }
  python3 - "$OUT/scan.jsonl" "$dir" "$FP_NAME" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)" "$apart" "$why" << 'PY'
import collections, json, sys
jsonl, top, name, commit, apart, why = sys.argv[1:7]
files, verdicts, bad, counted_apart = 0, collections.Counter(), [], collections.Counter()
for line in open(jsonl):
    d = json.loads(line)
    if "path" not in d or "verdict" not in d:
        continue
    if apart and d["path"].endswith(apart):
        counted_apart[d["verdict"]] += 1
        continue
    files += 1
    verdicts[d["verdict"]] += 1
    if d["verdict"] != "intact":
        bad.append(d)
print(f"<!-- bench/{name}.sh; git {commit} -->")
print(f"Files: {files}; intact {verdicts['intact']}, damaged {verdicts['damaged']}, "
      f"unknown {verdicts['unknown']}.")
if apart:
    print(f"Counted apart ({why}): {dict(counted_apart)}.")
for d in bad:
    path = d["path"][len(top):].lstrip("/")
    print(f"- {d['verdict']} {d.get('format')}: {path}: {(d.get('reasons') or [''])[0][:140]}")
PY
}
