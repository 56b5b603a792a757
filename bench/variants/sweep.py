#!/usr/bin/env python3
"""Layout-variant sweep (step 5b): detection of damage whose layout no documented family uses.

Python 3 standard library only. Usage (bench/variants.sh runs gen_profiles.py, then this):
  bench/variants/sweep.py [--steen build/release/steen] [--damage-corpus build/release/bench/damage_corpus]
                          [--corpus bench/corpus] [--out bench/out/variants] [--profiles OUT/profiles]
                          [--per-type 4] [--max-mb 64] [--threads N] [--corpora main,big]
                          [--only a,b] [--reuse] [--keep-all] [--deep-misses] [--command TEXT]

For every profile of <profiles>/index.json (bench/variants/gen_profiles.py) and every corpus:
`damage_corpus --corpus C --out <out>/damaged/C/<variant> --per-type N --max-mb M --profiles FILE`,
then `steen scan --format jsonl` of that folder (kept in <out>/scans/C/<variant>.jsonl), joined with
its DAMAGED.tsv as bench/evaluate.py does (DAMAGED.tsv path relative to the scanned folder == scan
record path relative to it).

Corpora:  main = --corpus (damage_corpus's own sample: per type the first N files of at most
          --max-mb MiB in sha256 order; most are small). big = <out>/bigcorpus, built here from
          <corpus>/MANIFEST.tsv at every run: a filtered MANIFEST.tsv (files of 1 MiB to --max-mb
          MiB, minus those the main sample already takes) and one symlink per type folder to the
          corpus, so that the layouts aimed at large files (strides of MiB, 1 MiB tails, ...) are
          exercised at all. Should a file still be sampled in both, it is counted once.
Verdicts: detected = "damaged"; unknown; missed = "intact" (and scan errors, listed apart in
          summary.tsv). Files the profile leaves alone (damage_corpus "skipped:...", e.g. a file
          not larger than the intact header) are not damaged files and are not counted.
Misses:   for every file not detected, the changed byte ranges are recomputed against the original
          and intersected with the ranges_read steen reports (did the scan read the damage at all?).
          The damaged files of the misses are kept, the others removed after the scan (--keep-all
          keeps everything: ~4 GB with the defaults). --deep-misses rescans the misses with
          `steen scan --deep` (one scan per variant) and reports how many --deep then detects.
Outputs:  <out>/summary.tsv, <out>/files.jsonl (one row per sampled file and variant: verdict,
          reasons, changed and read ranges), <out>/report.md (tables, misses with reasons),
          <out>/deep_misses.tsv and .jsonl with --deep-misses; with --only, the same names with
          "-partial". On stdout: an HTML comment (command, date, steen's sha256, git HEAD) and the
          Markdown table for docs/BENCHMARKS.md. Progress goes to stderr.
"""
import argparse
import collections
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import evaluate  # noqa: E402 (bench/: the scan output reader)
from corpus_select import sha256_of  # noqa: E402 (bench/)
from evaluate import read_tsv  # noqa: E402 (bench/)
from gen_profiles import (BIG_MIN, big_rows, damage_sample, die, manifest_sha256,  # noqa: E402 (same folder)
                          read_manifest)

NOT_DETECTED = ("intact", "unknown", "error", "missing")
MISS_LIST_LIMIT = 30


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pct(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "-"


def cell(text):
    return str(text).replace("|", "\\|")


# ---- corpora

def build_big(corpus, out, header, rows, per_type, max_bytes):
    """<out>/bigcorpus: filtered MANIFEST.tsv + a symlink per top folder. Returns (dir, files listed)."""
    big = os.path.join(out, "bigcorpus")
    shutil.rmtree(big, ignore_errors=True)  # symlinks are removed, never followed
    os.makedirs(big)
    selected = big_rows(rows, per_type, max_bytes)
    with open(os.path.join(big, "MANIFEST.tsv"), "w", encoding="utf-8", errors="surrogateescape",
              newline="\n") as f:
        f.write(header + "\n")
        for r in selected:
            f.write(r["line"] + "\n")
    for top in sorted({r["path"].split("/", 1)[0] for r in selected}):
        os.symlink(os.path.join(corpus, top), os.path.join(big, top))
    return big, len(selected)


# ---- scans

def load_scan(jsonl, root=None):
    """{key: record}: key = path relative to root (tree scan), or absolute path (root None)."""
    recs = {}
    root_abs = os.path.abspath(root) if root else None
    for rec in evaluate.scan_records(jsonl):
        if "summary" in rec or not rec.get("path"):
            continue
        p = os.path.abspath(rec["path"])
        recs[os.path.relpath(p, root_abs) if root_abs else p] = rec
    return recs


# ---- what changed, what was read

def diff_ranges(orig_path, new_path, block=4096, max_byte_level_blocks=4096):
    """Changed byte ranges [start, end) of new vs orig at the same offsets (gaps < 16 B bridged:
    ciphertext can equal plaintext by chance), and the size difference (footer, encoding)."""
    with open(orig_path, "rb") as f:
        a = f.read()
    with open(new_path, "rb") as f:
        b = f.read()
    n = min(len(a), len(b))
    diff_blocks = [i for i in range(0, n, block) if a[i:i + block] != b[i:i + block]]
    byte_level = len(diff_blocks) <= max_byte_level_blocks
    ranges = []
    for i in diff_blocks:
        if not byte_level:
            e = min(i + block, n)
            if ranges and ranges[-1][1] >= i:
                ranges[-1][1] = e
            else:
                ranges.append([i, e])
            continue
        x, y = a[i:i + block], b[i:i + block]
        k = 0
        while k < len(x):
            if x[k] == y[k]:
                k += 1
                continue
            s = k
            while k < len(x) and x[k] != y[k]:
                k += 1
            if ranges and ranges[-1][1] >= i + s - 16:
                ranges[-1][1] = i + k
            else:
                ranges.append([i + s, i + k])
    return ranges, len(b) - len(a)


def overlap(changed, read):
    total = 0
    for s, e in changed:
        for rs, rl in read:
            lo, hi = max(s, rs), min(e, rs + rl)
            if hi > lo:
                total += hi - lo
    return total


def fmt_ranges(pairs, limit):
    text = ",".join(f"{s}+{n}" for s, n in pairs[:limit])
    if len(pairs) > limit:
        text += f",...({len(pairs)} ranges)"
    return text or "-"


# ---- one variant on one corpus

def sweep_one(args, variant, profile_file, corpus_name, corpus_dir):
    out = os.path.join(args.out, "damaged", corpus_name, variant["name"])
    jsonl = os.path.join(args.out, "scans", corpus_name, variant["name"] + ".jsonl")
    if not args.reuse:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(os.path.dirname(jsonl), exist_ok=True)
        proc = subprocess.run([args.damage_corpus, "--corpus", corpus_dir, "--out", out, "--per-type",
                               str(args.per_type), "--max-mb", str(args.max_mb), "--profiles", profile_file],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            die(f"damage_corpus {variant['name']} on {corpus_name} exited {proc.returncode}: {proc.stderr}", 1)
        evaluate.scan_to_file(args.steen, [out], jsonl, threads=args.threads)
    elif not (os.path.exists(jsonl) and os.path.exists(os.path.join(out, "DAMAGED.tsv"))):
        die(f"--reuse: {jsonl} or {out}/DAMAGED.tsv missing (run without --reuse first)")
    recs = load_scan(jsonl, out)
    rows, keep = [], set()
    for row in read_tsv(os.path.join(out, "DAMAGED.tsv")):
        base = {"variant": variant["name"], "group": variant["group"], "layout": variant["layout"],
                "corpus": corpus_name, "type": row["type"], "original": row["original"],
                "size": int(row["size"]), "new_size": int(row["new_size"] or 0), "status": row["status"],
                "ranges_tsv": row["ranges"]}
        if row["status"] != "damaged":
            rows.append(base | {"verdict": "skipped"})
            continue
        fpath = os.path.join(out, row["path"])
        rec = recs.get(row["path"])
        v = evaluate.verdict_of(rec)
        r = base | {"path": fpath, "verdict": v, "kind": (rec or {}).get("kind"),
                    "format": (rec or {}).get("format"), "score": (rec or {}).get("score"),
                    "reasons": (rec or {}).get("reasons", []), "bytes_read": (rec or {}).get("bytes_read")}
        if v != "damaged":
            keep.add(os.path.normpath(fpath))
            if os.path.exists(fpath):
                changed, grown = diff_ranges(os.path.join(args.corpus, row["original"]), fpath)
                read = (rec or {}).get("ranges_read") or []
                r |= {"changed": fmt_ranges([(s, e - s) for s, e in changed], 6),
                      "changed_bytes": sum(e - s for s, e in changed), "appended": grown,
                      "changed_bytes_read": overlap(changed, read), "read": fmt_ranges(read, 8)}
        rows.append(r)
    if not (args.keep_all or args.reuse):
        for dirpath, _, names in os.walk(out):
            for name in names:
                p = os.path.normpath(os.path.join(dirpath, name))
                if name != "DAMAGED.tsv" and p not in keep:
                    os.remove(p)
    return rows


# ---- --deep rescan of the misses

def deep_misses(args, rows):
    by = collections.OrderedDict()
    for r in rows:
        if r["verdict"] in NOT_DETECTED:
            by.setdefault(r["variant"], []).append(r)
    out_rows, summary = [], []
    os.makedirs(os.path.join(args.out, "scans", "deep"), exist_ok=True)
    for variant, misses in by.items():
        present = [r for r in misses if os.path.exists(r["path"])]
        recs = {}
        if present:
            jsonl = os.path.join(args.out, "scans", "deep", variant + ".jsonl")
            evaluate.scan_to_file(args.steen, [r["path"] for r in present], jsonl, deep=True,
                                  threads=args.threads)
            recs = load_scan(jsonl)
        c = collections.Counter()
        for r in misses:
            if not os.path.exists(r["path"]):
                c["not rescanned"] += 1
                continue
            rec = recs.get(os.path.abspath(r["path"]))
            v = evaluate.verdict_of(rec)
            c[v] += 1
            r["deep_verdict"] = v
            r["deep_reasons"] = (rec or {}).get("reasons", [])
            out_rows.append({"variant": variant, "corpus": r["corpus"], "type": r["type"], "path": r["path"],
                             "default": r["verdict"], "deep": v, "deep_reasons": r["deep_reasons"]})
        summary.append((variant, len(misses), c))
        log(f"  --deep {variant}: {c['damaged']} of {len(misses)} misses detected")
    return summary, out_rows


# ---- report

def aggregate(rows, variants, corpora):
    per = collections.OrderedDict((v["name"], {"v": v, "c": collections.Counter(),
                                               "by": {c: collections.Counter() for c in corpora},
                                               "skip": collections.Counter()}) for v in variants)
    types = collections.OrderedDict()
    for r in rows:
        s = per[r["variant"]]
        if r["verdict"] == "skipped":
            s["skip"][r["status"].split(":", 1)[-1]] += 1
            continue
        if r["verdict"] == "duplicate":
            continue
        s["c"][r["verdict"]] += 1
        s["c"]["files"] += 1
        s["by"][r["corpus"]][r["verdict"]] += 1
        s["by"][r["corpus"]]["files"] += 1
        t = types.setdefault(r["type"], collections.Counter())
        t[r["verdict"]] += 1
        t["files"] += 1
    return per, types


def main_table(per):
    lines = ["| variant | layout | damaged files | detected | unknown | missed |",
             "|---|---|---:|---:|---:|---:|"]
    for name, s in per.items():
        c = s["c"]
        n = c["files"]
        lines.append(f"| {name} | {cell(s['v']['layout'])} | {n} | {pct(c['damaged'], n)} | "
                     f"{pct(c['unknown'], n)} | {pct(n - c['damaged'] - c['unknown'], n)} |")
    return lines


def deep_table(summary):
    lines = ["| variant | default-scan misses | `--deep`: detected | unknown | intact |",
             "|---|---:|---:|---:|---:|"]
    for variant, n, c in summary:
        extra = f" ({c['not rescanned']} not rescanned)" if c["not rescanned"] else ""
        lines.append(f"| {variant} | {n}{extra} | {c['damaged']} | {c['unknown']} | "
                     f"{c['intact'] + c['error'] + c['missing']} |")
    return lines


def write_outputs(args, rows, variants, corpora, header_comment, deep_summary, deep_rows, suffix):
    per, types = aggregate(rows, variants, corpora)
    with open(os.path.join(args.out, f"files{suffix}.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    cols = ["variant", "group", "layout", "files", "detected", "unknown", "intact", "error", "skipped",
            "detected_pct", "unknown_pct", "missed_pct"]
    for c in corpora:
        cols += [f"{c}_files", f"{c}_detected"]
    with open(os.path.join(args.out, f"summary{suffix}.tsv"), "w", encoding="utf-8") as f:
        f.write("\t".join(cols) + "\n")
        for name, s in per.items():
            c = s["c"]
            n = c["files"]
            vals = [name, s["v"]["group"], s["v"]["layout"], n, c["damaged"], c["unknown"], c["intact"],
                    c["error"] + c["missing"], sum(s["skip"].values()),
                    f"{100.0 * c['damaged'] / n:.1f}" if n else "",
                    f"{100.0 * c['unknown'] / n:.1f}" if n else "",
                    f"{100.0 * (n - c['damaged'] - c['unknown']) / n:.1f}" if n else ""]
            for corpus in corpora:
                vals += [s["by"][corpus]["files"], s["by"][corpus]["damaged"]]
            f.write("\t".join(str(v) for v in vals) + "\n")
    if deep_summary is not None:
        with open(os.path.join(args.out, f"deep_misses{suffix}.tsv"), "w", encoding="utf-8") as f:
            f.write("variant\tdefault_misses\tdeep_damaged\tdeep_unknown\tdeep_intact\tnot_rescanned\n")
            for variant, n, c in deep_summary:
                f.write(f"{variant}\t{n}\t{c['damaged']}\t{c['unknown']}\t"
                        f"{c['intact'] + c['error'] + c['missing']}\t{c['not rescanned']}\n")
        with open(os.path.join(args.out, f"deep_misses{suffix}.jsonl"), "w", encoding="utf-8") as f:
            for r in deep_rows:
                f.write(json.dumps(r) + "\n")

    table = main_table(per)
    md = [header_comment, "# Layout variants (bench/variants.sh)", "",
          "Drill profiles whose layouts no documented family uses (bench/variants/gen_profiles.py), applied "
          "by `damage_corpus` to the main sample (`--per-type` files per type, at most `--max-mb` MiB) and "
          "to the big sample (files of 1 MiB and more not in the main sample), scanned with "
          "`steen scan` (default mode). Detected = verdict `damaged`; missed = `intact` (or a scan error).",
          ""] + table + [""]
    md += ["## Per corpus", "", "| variant | group | " + " | ".join(f"{c}: detected / files" for c in corpora) +
           " | skipped by the profile |", "|---|---|" + "---:|" * len(corpora) + "---|"]
    for name, s in per.items():
        skip = ", ".join(f"{k} {why}" for why, k in s["skip"].most_common()) or "0"
        md.append(f"| {name} | {s['v']['group']} | " +
                  " | ".join(f"{s['by'][c]['damaged']} / {s['by'][c]['files']}" for c in corpora) +
                  f" | {cell(skip)} |")
    md += ["", "## Per original type (all variants)", "", "| type | damaged files | detected | unknown | missed |",
           "|---|---:|---:|---:|---:|"]
    for t, c in sorted(types.items()):
        n = c["files"]
        md.append(f"| {t} | {n} | {pct(c['damaged'], n)} | {pct(c['unknown'], n)} | "
                  f"{pct(n - c['damaged'] - c['unknown'], n)} |")
    md.append("")
    if deep_summary is not None:
        md += ["## Misses rescanned with --deep", ""] + deep_table(deep_summary) + [""]
    md += ["## Misses", "",
           "changed = byte ranges that differ from the original (offset+length), appended = size "
           "difference, read = ranges the scan read; \"B of it read\" = changed bytes the scan saw.", ""]
    for name, s in per.items():
        misses = [r for r in rows if r["variant"] == name and r["verdict"] in NOT_DETECTED]
        if not misses:
            continue
        bytype = collections.Counter(r["type"] for r in misses)
        md.append(f"### {name} ({s['v']['layout']}): {len(misses)} misses of {s['c']['files']}\n")
        md.append("types: " + ", ".join(f"{t} {k}" for t, k in bytype.most_common()) + "\n")
        for r in misses[:MISS_LIST_LIMIT]:
            deep = f" (--deep: {r['deep_verdict']})" if "deep_verdict" in r else ""
            md.append(f"- [{r['corpus']}] {r['type']} `{r['original']}` size={r['size']} -> {r['verdict']}{deep} "
                      f"[{r.get('format')}] changed={r.get('changed')} ({r.get('changed_bytes')} B, appended "
                      f"{r.get('appended')}; {r.get('changed_bytes_read')} B of it read) read={r.get('read')} :: "
                      f"{'; '.join(r.get('reasons') or [])}")
        if len(misses) > MISS_LIST_LIMIT:
            md.append(f"- ... {len(misses) - MISS_LIST_LIMIT} more in files{suffix}.jsonl")
        md.append("")
    with open(os.path.join(args.out, f"report{suffix}.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    return table


def git_head(repo):
    try:
        p = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, check=False)
        return p.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    repo = os.path.dirname(bench)
    parser.add_argument("--steen", default=os.path.join(repo, "build", "release", "steen"))
    parser.add_argument("--damage-corpus", default=os.path.join(repo, "build", "release", "bench", "damage_corpus"))
    parser.add_argument("--corpus", default=os.path.join(bench, "corpus"))
    parser.add_argument("--out", default=os.path.join(bench, "out", "variants"))
    parser.add_argument("--profiles", help="folder written by gen_profiles.py (default <out>/profiles)")
    parser.add_argument("--per-type", type=int, default=4, help="damage_corpus --per-type (default 4)")
    parser.add_argument("--max-mb", type=int, default=64, help="damage_corpus --max-mb (default 64)")
    parser.add_argument("--threads", type=int, default=0, help="steen scan --threads (default: steen's, cores)")
    parser.add_argument("--corpora", default="main,big", help="main, big or both (default main,big)")
    parser.add_argument("--only", default="", help="comma-separated variant names (outputs get -partial)")
    parser.add_argument("--reuse", action="store_true", help="no damage, no scan: reuse <out>/damaged and scans")
    parser.add_argument("--keep-all", action="store_true", help="keep every damaged file (default: misses only)")
    parser.add_argument("--deep-misses", action="store_true", help="rescan the misses with steen scan --deep")
    parser.add_argument("--command", help="command shown in the HTML comment (default: this one)")
    args = parser.parse_args()
    started = time.monotonic()

    args.corpus = os.path.abspath(args.corpus)
    args.out = os.path.abspath(args.out)
    header, rows = read_manifest(args.corpus)  # exits 2 with a message when the corpus is missing
    args.steen = os.path.abspath(args.steen)
    if not os.access(args.steen, os.X_OK):
        die(f"no steen binary at {args.steen} (cmake --preset release && cmake --build --preset release, "
            "or pass --steen)")
    args.damage_corpus = os.path.abspath(args.damage_corpus)
    if not (args.reuse or os.access(args.damage_corpus, os.X_OK)):
        die(f"no damage_corpus at {args.damage_corpus} (release build, or pass --damage-corpus)")
    corpora = [c for c in args.corpora.split(",") if c]
    if not corpora or any(c not in ("main", "big") for c in corpora):
        die(f"--corpora: main, big or main,big, not {args.corpora!r}")
    profiles = os.path.abspath(args.profiles or os.path.join(args.out, "profiles"))
    index_path = os.path.join(profiles, "index.json")
    if not os.path.isfile(index_path):
        die(f"no {index_path}: run bench/variants/gen_profiles.py --out {profiles} first (bench/variants.sh does)")
    with open(index_path, encoding="utf-8") as f:
        index = json.load(f)
    if (index.get("manifest_sha256"), index.get("per_type"), index.get("max_mb")) != \
            (manifest_sha256(args.corpus), args.per_type, args.max_mb):
        die(f"the profiles in {profiles} were made for {index.get('corpus')} --per-type {index.get('per_type')} "
            f"--max-mb {index.get('max_mb')} (their tail/middle rules hold the sampled file sizes): rerun "
            f"gen_profiles.py with this --corpus, --per-type {args.per_type} and --max-mb {args.max_mb}")
    variants = index["variants"]
    only = set(filter(None, args.only.split(",")))
    if only:
        unknown = only - {v["name"] for v in variants}
        if unknown:
            die(f"--only: unknown variant(s) {', '.join(sorted(unknown))}")
        variants = [v for v in variants if v["name"] in only]
    suffix = "-partial" if only else ""
    os.makedirs(args.out, exist_ok=True)

    max_bytes = args.max_mb << 20
    dirs = {"main": args.corpus}
    if "big" in corpora:
        if args.reuse:
            dirs["big"], n_big = os.path.join(args.out, "bigcorpus"), len(big_rows(rows, args.per_type, max_bytes))
        else:
            dirs["big"], n_big = build_big(args.corpus, args.out, header, rows, args.per_type, max_bytes)
        if n_big == 0:
            log(f"sweep: no corpus file of {BIG_MIN >> 20} to {args.max_mb} MiB outside the main sample: "
                "no big corpus")
            corpora.remove("big")
    n_main = len(damage_sample(rows, args.per_type, max_bytes))
    log(f"sweep: {len(variants)} variants; main sample {n_main} files"
        + (f", big sample of {n_big} files of {BIG_MIN >> 20}-{args.max_mb} MiB ({dirs['big']})"
           if "big" in corpora else ""))

    all_rows, seen, dups = [], set(), 0
    for v in variants:
        profile_file = os.path.join(profiles, v["file"])
        for corpus in corpora:
            rows_v = sweep_one(args, v, profile_file, corpus, dirs[corpus])
            for r in rows_v:
                if r["verdict"] not in ("skipped",):
                    key = (r["variant"], r["original"])
                    if key in seen:
                        r["verdict"] = "duplicate"
                        dups += 1
                    seen.add(key)
            all_rows += rows_v
            done = [r for r in rows_v if r["verdict"] not in ("skipped", "duplicate")]
            log(f"[{time.monotonic() - started:5.0f}s] {v['name']:<28} {corpus:<4} "
                f"{sum(r['verdict'] == 'damaged' for r in done)}/{len(done)} detected")
    if dups:
        log(f"sweep: warning: {dups} files sampled in both corpora, counted once")

    deep_summary = deep_rows = None
    if args.deep_misses:
        deep_summary, deep_rows = deep_misses(args, all_rows)

    elapsed = time.monotonic() - started
    steen_sha = sha256_of(args.steen)[:12]
    steen_shown = os.path.relpath(args.steen, repo) if args.steen.startswith(repo + os.sep) else args.steen
    command = args.command or "bench/variants/sweep.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    comment = (f"<!-- {command}; {os.cpu_count()} cores; {date}; {elapsed:.0f} s"
               f"{' (reused scans)' if args.reuse else ''}; steen {steen_shown} sha256 {steen_sha}; "
               f"git {git_head(repo)} -->")
    table = write_outputs(args, all_rows, variants, corpora, comment, deep_summary, deep_rows, suffix)
    print(comment)
    print("\n".join(table))
    if deep_summary is not None:
        print("\nDefault-scan misses rescanned with `steen scan --deep`:\n")
        print("\n".join(deep_table(deep_summary)))
    log(f"sweep: {args.out}/summary{suffix}.tsv, files{suffix}.jsonl, report{suffix}.md"
        + (f", deep_misses{suffix}.tsv" if deep_summary is not None else "") + f" ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
