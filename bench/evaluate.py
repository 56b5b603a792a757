#!/usr/bin/env python3
"""Evaluates `steen scan` on the corpus (intact), the benign transforms and the damaged sets.

Python 3 standard library only. Usage:
  bench/evaluate.py [--steen build/release/steen] [--deep] [--threads N] [--reuse]
                    [--corpus bench/corpus] [--out bench/out]

Runs `steen scan --format jsonl` on <corpus>, <out>/benign and <out>/damaged (the JSONL is kept in
<out>/scan-*.jsonl; --reuse reads it instead of scanning again), joins the verdicts with
MANIFEST.tsv, BENIGN.tsv and DAMAGED.tsv, and writes <out>/report.json plus a Markdown report on
stdout (paste it into docs/BENCHMARKS.md):
  - detection rate per drill profile: files with verdict "damaged" / damaged files written;
  - false positives per type on the intact corpus: verdict "damaged" on a real, intact file;
  - benign transforms (compressed, archived, legitimately encrypted): verdict "damaged" is a false
    positive;
  - "unknown" rates everywhere, and the first 20 misses and false positives with their reasons.
Profiles that write a legitimate encrypted container next to the original (gpg, zip, openssl) are
expected NOT to be called damaged; they are reported apart.
"""
import argparse
import collections
import csv
import json
import os
import subprocess
import sys
import time

LIST_LIMIT = 20


def read_tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def scan_to_file(steen, targets, jsonl_path, deep=False, threads=0):
    """Runs `steen scan --format jsonl` over `targets` into jsonl_path; returns the seconds it
    took. Exits when the scan itself failed (status other than 0 clean, 1 damage found)."""
    cmd = [steen, "scan", "--format", "jsonl", "--no-progress"]
    if threads:
        cmd += ["--threads", str(threads)]
    if deep:
        cmd.append("--deep")
    start = time.monotonic()
    with open(jsonl_path, "w", encoding="utf-8") as out:
        proc = subprocess.run(cmd + list(targets), stdout=out, stderr=subprocess.PIPE, text=True,
                              check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} ... exited {proc.returncode}: {proc.stderr[-2000:]}")
    return time.monotonic() - start


def run_scan(steen, root, jsonl_path, deep, threads, reuse):
    """Returns ({relative path: record}, seconds, summary) for one tree."""
    if not (reuse and os.path.exists(jsonl_path)):
        elapsed = scan_to_file(steen, [root], jsonl_path, deep, threads)
        with open(jsonl_path + ".time", "w", encoding="utf-8") as f:
            f.write(f"{elapsed:.3f}\n")
    else:
        try:
            with open(jsonl_path + ".time", encoding="utf-8") as f:
                elapsed = float(f.read())
        except (OSError, ValueError):
            elapsed = 0.0
    records, summary = {}, {}
    root_abs = os.path.abspath(root)
    for rec in scan_records(jsonl_path):
        if "summary" in rec:
            summary = rec["summary"]
        elif rec.get("path"):
            records[os.path.relpath(os.path.abspath(rec["path"]), root_abs)] = rec
    return records, elapsed, summary


def scan_records(jsonl_path):
    """The JSON objects of a `steen scan --format jsonl` output (files, errors, the summary);
    blank and malformed lines are skipped."""
    with open(jsonl_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError:
                continue


def verdict_of(rec):
    if rec is None:
        return "missing"
    if "error" in rec and "verdict" not in rec:
        return "error"
    return rec.get("verdict", "missing")


def brief(rec):
    if rec is None:
        return {"verdict": "missing"}
    return {k: rec.get(k) for k in ("verdict", "kind", "format", "score") if k in rec} | {
        "reasons": (rec.get("reasons") or [])[:3]}


def rate(n, d):
    return n / d if d else 0.0


def pct(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(bench)
    parser.add_argument("--steen", default=os.path.join(repo, "build", "release", "steen"))
    parser.add_argument("--corpus", default=os.path.join(bench, "corpus"))
    parser.add_argument("--out", default=os.path.join(bench, "out"))
    parser.add_argument("--deep", action="store_true", help="pass --deep to steen scan")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--reuse", action="store_true", help="reuse <out>/scan-*.jsonl if present")
    args = parser.parse_args()
    if not (args.reuse or os.access(args.steen, os.X_OK)):
        sys.exit(f"evaluate: no steen binary at {args.steen} (cmake --preset release && cmake --build "
                 "--preset release, or pass --steen)")
    mode = "deep" if args.deep else "default"
    report = {"steen": args.steen, "mode": mode, "threads": args.threads}
    md = []

    # ---- intact corpus: false positives per type
    manifest = read_tsv(os.path.join(args.corpus, "MANIFEST.tsv"))
    intact, t_intact, s_intact = run_scan(args.steen, args.corpus,
                                          os.path.join(args.out, f"scan-corpus-{mode}.jsonl"), args.deep,
                                          args.threads, args.reuse)
    per_type = collections.OrderedDict()
    false_positives = []
    for row in manifest:
        rec = intact.get(row["path"])
        v = verdict_of(rec)
        stats = per_type.setdefault(row["type"], collections.Counter())
        stats["files"] += 1
        stats[v] += 1
        if v == "damaged":
            false_positives.append({"set": "corpus", "type": row["type"], "path": row["path"],
                                    "source": row["source"]} | brief(rec))
    totals = collections.Counter()
    for stats in per_type.values():
        totals.update(stats)
    report["corpus"] = {"seconds": round(t_intact, 3), "summary": s_intact, "totals": dict(totals),
                        "per_type": {t: dict(s) for t, s in per_type.items()}}
    md.append(f"### Intact corpus ({totals['files']} real files from Debian packages, scan {mode}, "
              f"{t_intact:.1f} s)\n")
    md.append("| type | files | intact | unknown | damaged (false positive) |")
    md.append("|---|---:|---:|---:|---:|")
    for t, s in per_type.items():
        md.append(f"| {t} | {s['files']} | {pct(s['intact'], s['files'])} | {pct(s['unknown'], s['files'])} | "
                  f"{s['damaged']} ({pct(s['damaged'], s['files'])}) |")
    md.append(f"| **all** | {totals['files']} | {pct(totals['intact'], totals['files'])} | "
              f"{pct(totals['unknown'], totals['files'])} | {totals['damaged']} "
              f"({pct(totals['damaged'], totals['files'])}) |\n")

    # ---- benign transforms
    benign_tsv = os.path.join(args.out, "benign", "BENIGN.tsv")
    if os.path.exists(benign_tsv):
        rows = read_tsv(benign_tsv)
        recs, t_benign, s_benign = run_scan(args.steen, os.path.join(args.out, "benign"),
                                            os.path.join(args.out, f"scan-benign-{mode}.jsonl"), args.deep,
                                            args.threads, args.reuse)
        per_tool = collections.OrderedDict()
        for row in rows:
            rec = recs.get(row["path"])
            v = verdict_of(rec)
            stats = per_tool.setdefault(row["tool"], collections.Counter())
            stats["files"] += 1
            stats[v] += 1
            stats["expect:" + row["expect"]] += 1
            if v == "damaged":
                false_positives.append({"set": "benign", "tool": row["tool"], "type": row["type"],
                                        "path": row["path"], "original": row["original"]} | brief(rec))
        report["benign"] = {"seconds": round(t_benign, 3), "per_tool": {t: dict(s) for t, s in per_tool.items()}}
        md.append(f"### Benign transforms ({len(rows)} files: compressed, archived, legitimately encrypted)\n")
        md.append("| tool | files | intact | unknown | damaged (false positive) |")
        md.append("|---|---:|---:|---:|---:|")
        for t, s in per_tool.items():
            md.append(f"| {t} | {s['files']} | {pct(s['intact'], s['files'])} | {pct(s['unknown'], s['files'])} | "
                      f"{s['damaged']} ({pct(s['damaged'], s['files'])}) |")
        md.append("")

    # ---- damaged sets: detection per profile (and per type, all profiles together)
    damaged_tsv = os.path.join(args.out, "damaged", "DAMAGED.tsv")
    misses = []
    if os.path.exists(damaged_tsv):
        rows = read_tsv(damaged_tsv)
        recs, t_damaged, _ = run_scan(args.steen, os.path.join(args.out, "damaged"),
                                      os.path.join(args.out, f"scan-damaged-{mode}.jsonl"), args.deep,
                                      args.threads, args.reuse)
        per_profile = collections.OrderedDict()
        per_dtype = collections.OrderedDict()
        container_profiles = collections.OrderedDict()
        for row in rows:
            status = row["status"]
            if status.startswith("skipped"):
                per_profile.setdefault(row["profile"], collections.Counter())["skipped"] += 1
                continue
            rec = recs.get(row["path"])
            v = verdict_of(rec)
            if status == "container":
                stats = container_profiles.setdefault(row["profile"], collections.Counter())
                stats["files"] += 1
                stats[v] += 1
                if v == "damaged":
                    false_positives.append({"set": "container", "profile": row["profile"], "type": row["type"],
                                            "path": row["path"], "original": row["original"]} | brief(rec))
                continue
            stats = per_profile.setdefault(row["profile"], collections.Counter())
            stats["files"] += 1
            stats[v] += 1
            tstats = per_dtype.setdefault(row["type"], collections.Counter())
            tstats["files"] += 1
            tstats[v] += 1
            if v != "damaged":
                misses.append({"profile": row["profile"], "type": row["type"], "path": row["path"],
                               "original": row["original"], "size": int(row["size"]),
                               "ranges": row["ranges"]} | brief(rec))
        all_d = collections.Counter()
        for s in per_profile.values():
            all_d.update(s)
        report["damaged"] = {
            "seconds": round(t_damaged, 3),
            "per_profile": {p: dict(s) | {"detection_rate": round(rate(s["damaged"], s["files"]), 4)}
                            for p, s in per_profile.items()},
            "per_type": {t: dict(s) | {"detection_rate": round(rate(s["damaged"], s["files"]), 4)}
                         for t, s in per_dtype.items()},
            "containers": {p: dict(s) for p, s in container_profiles.items()},
            "totals": dict(all_d),
        }
        md.append(f"### Detection per drill profile ({all_d['files']} damaged files, scan {mode})\n")
        md.append("| profile | damaged files | detected | unknown | missed (intact) | skipped by profile |")
        md.append("|---|---:|---:|---:|---:|---:|")
        for p, s in per_profile.items():
            if not s["files"]:
                md.append(f"| {p} | 0 | - | - | - | {s['skipped']} |")
                continue
            md.append(f"| {p} | {s['files']} | {pct(s['damaged'], s['files'])} | {pct(s['unknown'], s['files'])} | "
                      f"{pct(s['intact'], s['files'])} | {s['skipped']} |")
        md.append(f"| **all** | {all_d['files']} | {pct(all_d['damaged'], all_d['files'])} | "
                  f"{pct(all_d['unknown'], all_d['files'])} | {pct(all_d['intact'], all_d['files'])} | "
                  f"{all_d['skipped']} |\n")
        if container_profiles:
            md.append("Profiles writing a legitimate encrypted container next to the original (expected: not "
                      "damaged; caught by behaviour, not content):\n")
            md.append("| profile | files | damaged (wrong) | intact | unknown |")
            md.append("|---|---:|---:|---:|---:|")
            for p, s in container_profiles.items():
                md.append(f"| {p} | {s['files']} | {s['damaged']} | {s['intact']} | {s['unknown']} |")
            md.append("")
        md.append("Detection per original type (all profiles):\n")
        md.append("| type | damaged files | detected | unknown | missed |")
        md.append("|---|---:|---:|---:|---:|")
        for t, s in per_dtype.items():
            md.append(f"| {t} | {s['files']} | {pct(s['damaged'], s['files'])} | {pct(s['unknown'], s['files'])} | "
                      f"{pct(s['intact'], s['files'])} |")
        md.append("")

    report["false_positives_count"] = len(false_positives)
    report["misses_count"] = len(misses)
    report["false_positives"] = false_positives[:LIST_LIMIT]
    report["misses"] = misses[:LIST_LIMIT]
    for title, items, keys in (("False positives", false_positives, ("set", "type", "path")),
                               ("Misses", misses, ("profile", "type", "path"))):
        md.append(f"**{title}** ({len(items)}; first {min(len(items), LIST_LIMIT)}):\n")
        for item in items[:LIST_LIMIT]:
            where = " ".join(str(item.get(k, "")) for k in keys)
            why = "; ".join(item.get("reasons") or [])
            md.append(f"- {where}: {item.get('verdict')}/{item.get('kind', '')} [{item.get('format', '')}] {why}")
        md.append("")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print("\n".join(md))


if __name__ == "__main__":
    main()
