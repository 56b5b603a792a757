#!/usr/bin/env python3
"""Writes the layout-variant drill profiles of bench/variants/sweep.py (step 5b).

Python 3 standard library only. Usage:
  bench/variants/gen_profiles.py [--corpus bench/corpus] [--out bench/out/variants/profiles]
                                 [--per-type 4] [--max-mb 64]

~40 drill profiles (YAML, read by `damage_corpus --profiles FILE`) whose layouts deliberately
differ from the documented families (config/drill/*.yaml): head only, strides, spreads, header
kept intact, tail only, middle only, footers, bit flips, base64/hex encodings. No rename, no note,
no skip list: only the bytes matter. Also writes <out>/index.json: the variants in table order
(name, group, layout, file) and the parameters they were generated for.

Tail-only and middle-only layouts cannot be expressed by the drill's layout kinds (every kind is
anchored at a fixed offset from the start of the file; there is no "last N bytes"). Those
profiles therefore hold one exact-size rule per file size (kind head, min_size = max_size = S,
offset = S - T), generated from <corpus>/MANIFEST.tsv for the files the sweep will damage: the
main sample (what `damage_corpus --per-type N --max-mb M` takes: per type, the first N files of
at most M MiB in sha256 order) and the "big" sample (the same, among the files of 1 MiB to M MiB
not already in the main sample). They are valid for that corpus and those --per-type/--max-mb
only: sweep.py refuses profiles generated for other ones (index.json records them). Restricting
the rules to the sampled sizes also keeps the files far below the drill's 1 MiB profile limit.
"""
import argparse
import hashlib
import json
import os
import sys

KiB, MiB = 1 << 10, 1 << 20
BIG_MIN = MiB          # the "big" corpus: files of BIG_MIN .. --max-mb MiB
PROFILE_LIMIT = MiB    # steen::drill::LoadProfile refuses larger profile files


def die(msg, code=2):
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr)
    sys.exit(code)


# ---- the corpus and damage_corpus's sample (shared with sweep.py)

def manifest_path(corpus):
    return os.path.join(corpus, "MANIFEST.tsv")


def read_manifest(corpus):
    """(header line, [row dict with the raw line]) of <corpus>/MANIFEST.tsv, parsed as damage_corpus
    parses it (TAB-split, rows with fewer than 4 columns ignored). Exits 2 when it is missing."""
    path = manifest_path(corpus)
    if not os.path.isfile(path):
        die(f"no corpus at {corpus} ({path} missing: run bench/build_corpus.sh, or pass --corpus)")
    with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        lines = f.read().split("\n")
    header, rows = lines[0], []
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        try:
            size = int(cols[2])
        except ValueError:
            continue
        rows.append({"type": cols[0], "path": cols[1], "size": size, "sha256": cols[3], "line": line})
    if not rows:
        die(f"{path} lists no file")
    return header, rows


def manifest_sha256(corpus):
    h = hashlib.sha256()
    with open(manifest_path(corpus), "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def damage_sample(rows, per_type, max_bytes):
    """The files `damage_corpus --per-type N --max-mb M` damages (bench/damage_corpus.cc,
    StratifiedSample): files larger than M MiB left out, then per type the first N by sha256."""
    kept = sorted((r for r in rows if r["size"] <= max_bytes), key=lambda r: (r["type"], r["sha256"]))
    taken, sample = {}, []
    for r in kept:
        taken[r["type"]] = taken.get(r["type"], 0) + 1
        if taken[r["type"]] <= per_type:
            sample.append(r)
    return sample


def big_rows(rows, per_type, max_bytes):
    """MANIFEST rows of the "big" corpus: BIG_MIN <= size <= max, minus the main sample's files
    (those are damaged in the main corpus already: the same path gives the same seed, hence the
    same bytes, and would be counted twice)."""
    main = {r["path"] for r in damage_sample(rows, per_type, max_bytes)}
    return [r for r in rows if BIG_MIN <= r["size"] <= max_bytes and r["path"] not in main]


def sampled_sizes(rows, per_type, max_bytes):
    files = damage_sample(rows, per_type, max_bytes) + damage_sample(big_rows(rows, per_type, max_bytes),
                                                                     per_type, max_bytes)
    return sorted({r["size"] for r in files})


# ---- profile text

def human(n):
    for unit, div in (("MiB", MiB), ("KiB", KiB)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def flow(d):
    return "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"


def tail_rules(sizes, t):
    """Last t bytes of every sampled size; files smaller than 2t: their second half."""
    rules = []
    for s in sizes:
        if s >= 2 * t:
            rules.append({"min_size": s, "max_size": s, "kind": "head", "offset": s - t, "length": t})
        elif s >= 2:
            rules.append({"min_size": s, "max_size": s, "kind": "head", "offset": s // 2, "length": s - s // 2})
    return rules + [{"kind": "none"}]


def mid_rules(sizes, t):
    """t bytes centred in every sampled size; files smaller than 3t: their middle third."""
    rules = []
    for s in sizes:
        if s >= 3 * t:
            rules.append({"min_size": s, "max_size": s, "kind": "head", "offset": (s - t) // 2, "length": t})
        elif s >= 3:
            rules.append({"min_size": s, "max_size": s, "kind": "head", "offset": s // 3, "length": s // 3})
    return rules + [{"kind": "none"}]


def variants(sizes):
    """(group, name, layout description, layout rules, options) in table order."""
    v = []

    def add(group, name, desc, layout, cipher="aes-256-ctr", footer=0, encoding=None):
        v.append((group, name, desc, layout, {"cipher": cipher, "footer": footer, "encoding": encoding}))

    # head only (files smaller than N: whole file)
    for label, n in (("256", 256), ("1k", KiB), ("4k", 4 * KiB), ("16k", 16 * KiB), ("256k", 256 * KiB),
                     ("2m", 2 * MiB)):
        add("head", f"var-head-{label}", f"first {human(n)} only, ChaCha20, no footer",
            [{"kind": "head", "length": n}], cipher="chacha20")
    # intermittent stride from offset 0
    for name, desc, first, chunk, skip in (
            ("var-stride-16of64", "16 B of every 64 B from 0", 16, 16, 48),
            ("var-stride-64of256", "64 B of every 256 B from 0", 64, 64, 192),
            ("var-stride-512of4k", "512 B of every 4 KiB from 0", 512, 512, 3584),
            ("var-stride-4kof64k", "4 KiB of every 64 KiB from 0", 4 * KiB, 4 * KiB, 60 * KiB),
            ("var-stride-64kof1m", "64 KiB of every 1 MiB from 0", 64 * KiB, 64 * KiB, 960 * KiB),
            ("var-stride-1mof10m", "1 MiB of every 10 MiB from 0", MiB, MiB, 9 * MiB),
            ("var-first4k-stride-16kof4m", "first 4 KiB, then 16 KiB every 4 MiB", 4 * KiB, 16 * KiB,
             4 * MiB - 16 * KiB)):
        add("stride", name, desc, [{"kind": "stride", "first": first, "chunk": chunk, "skip": skip}])
    add("stride", "var-stride-16of32-off64k", "first 64 KiB intact, then 16 B of every 32 B (LockFile-like)",
        [{"kind": "stride", "offset": 64 * KiB, "first": 16, "chunk": 16, "skip": 16}])
    # spread: a share of the file in N chunks, the first at offset 0 unless offset
    add("spread", "var-spread-5pct-3", "3 chunks of 1.7% (5% in all), first at 0, last at EOF",
        [{"kind": "spread", "chunk_permille": 17, "count": 3}])
    add("spread", "var-spread-10pct-10", "10 chunks of 1% (10% in all), first at 0",
        [{"kind": "spread", "chunk_permille": 10, "count": 10}])
    add("spread", "var-spread-20pct-100", "100 chunks of 0.2% (20% in all), first at 0",
        [{"kind": "spread", "chunk_permille": 2, "count": 100}])
    add("spread", "var-spread-50pct-3", "3 chunks of 16.7% (50% in all), first at 0",
        [{"kind": "spread", "chunk_permille": 167, "count": 3}])
    add("spread", "var-spread-5pct-4k", "5% of the file in 4 KiB chunks spread evenly, first at 0",
        [{"kind": "spread", "chunk": 4 * KiB, "count_permille": 50, "count_min": 1, "count_max": 1000000}])
    add("spread", "var-spread-10pct-10-off64k", "first 64 KiB intact, then 10 chunks of 1% of the rest",
        [{"kind": "spread", "offset": 64 * KiB, "chunk_permille": 10, "count": 10}])
    # header kept intact, everything after it encrypted (files not larger than the header: skipped)
    for n in (4 * KiB, 16 * KiB, 32 * KiB, 64 * KiB):
        add("keephead", f"var-keephead-{n // KiB}k", f"first {human(n)} intact, all after encrypted",
            [{"kind": "full", "offset": n}])
    # tail / middle only: exact-size rules (see the docstring)
    for label, t in (("1m", MiB), ("64k", 64 * KiB), ("4k", 4 * KiB)):
        add("tail/middle", f"var-tail-{label}", f"last {human(t)} only (files < {human(2 * t)}: second half)",
            tail_rules(sizes, t), cipher="chacha20")
    add("tail/middle", "var-mid-64k", "64 KiB in the middle (files < 192 KiB: middle third)",
        mid_rules(sizes, 64 * KiB), cipher="chacha20")
    # footers
    add("footer", "var-head1k-footer17", "first 1 KiB + 17 B footer", [{"kind": "head", "length": KiB}],
        footer=17)
    add("footer", "var-stride4kof64k-footer256", "4 KiB of every 64 KiB + 256 B footer",
        [{"kind": "stride", "first": 4 * KiB, "chunk": 4 * KiB, "skip": 60 * KiB}], footer=256)
    add("footer", "var-keephead4k-footer4096", "first 4 KiB intact, rest encrypted + 4 KiB footer",
        [{"kind": "full", "offset": 4 * KiB}], footer=4096)
    add("footer", "var-head4k-footer65536", "first 4 KiB + 64 KiB footer", [{"kind": "head", "length": 4 * KiB}],
        footer=65536)
    # other ciphers with partial layouts
    add("cipher", "var-cbc-head-64k", "first 64 KiB AES-256-CBC", [{"kind": "head", "length": 64 * KiB}],
        cipher="aes-256-cbc")
    add("cipher", "var-bitflip-head-4k", "first 4 KiB bit-flipped (255 - b)", [{"kind": "head", "length": 4 * KiB}],
        cipher="bitflip")
    add("cipher", "var-bitflip-keephead-4k", "first 4 KiB intact, rest bit-flipped",
        [{"kind": "full", "offset": 4 * KiB}], cipher="bitflip")
    # encodings (the drill allows them with a full layout only)
    add("encoding", "var-base64-chacha", "ChaCha20 whole file, base64", [{"kind": "full"}], cipher="chacha20",
        encoding="base64")
    add("encoding", "var-hex-cbc", "AES-256-CBC whole file, hex", [{"kind": "full"}], cipher="aes-256-cbc",
        encoding="hex")
    add("encoding", "var-base64-footer4096", "AES-256-CTR whole file, base64, + 4 KiB binary footer",
        [{"kind": "full"}], encoding="base64", footer=4096)
    add("encoding", "var-base64-bitflip", "bit flip whole file, then base64", [{"kind": "full"}],
        cipher="bitflip", encoding="base64")
    add("encoding", "var-hex-bitflip", "bit flip whole file, then hex", [{"kind": "full"}], cipher="bitflip",
        encoding="hex")
    return v


def profile_text(name, desc, layout, opts, origin):
    lines = [f"# Layout variant, generated by bench/variants/gen_profiles.py ({origin}).",
             f"name: {name}", f"description: {json.dumps(desc)}", f"cipher: {opts['cipher']}"]
    if opts["encoding"]:
        lines.append(f"encoding: {opts['encoding']}")
    if opts["footer"]:
        lines.append(f"footer: {{size: {opts['footer']}}}")
    lines += ["rename: none", "pattern: pwrite", "threads: 1", "layout:"]
    lines += [f"  - {flow(r)}" for r in layout]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--corpus", default=os.path.join(bench, "corpus"))
    parser.add_argument("--out", default=os.path.join(bench, "out", "variants", "profiles"))
    parser.add_argument("--per-type", type=int, default=4, help="as damage_corpus --per-type (default 4)")
    parser.add_argument("--max-mb", type=int, default=64, help="as damage_corpus --max-mb (default 64)")
    args = parser.parse_args()
    if args.per_type < 1 or args.max_mb < 1:
        die("--per-type and --max-mb must be at least 1")
    corpus = os.path.abspath(args.corpus)
    _, rows = read_manifest(corpus)
    max_bytes = args.max_mb << 20
    sizes = sampled_sizes(rows, args.per_type, max_bytes)

    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".yaml") or f == "index.json":
            os.remove(os.path.join(args.out, f))
    origin = f"{manifest_path(corpus)}, --per-type {args.per_type} --max-mb {args.max_mb}"
    index = []
    for group, name, desc, layout, opts in variants(sizes):
        text = profile_text(name, desc, layout, opts, origin)
        if len(text) > PROFILE_LIMIT:
            die(f"{name}: {len(text)} bytes, above the drill's 1 MiB profile limit (lower --per-type)", 1)
        path = os.path.join(args.out, name + ".yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        index.append({"name": name, "group": group, "layout": desc, "file": name + ".yaml",
                      "exact_size_rules": len(layout) - 1 if group == "tail/middle" else 0})
    with open(os.path.join(args.out, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "bench/variants/gen_profiles.py", "corpus": corpus,
                   "manifest_sha256": manifest_sha256(corpus), "per_type": args.per_type,
                   "max_mb": args.max_mb, "big_min_bytes": BIG_MIN, "sampled_sizes": len(sizes),
                   "variants": index}, f, indent=1)
        f.write("\n")
    print(f"gen_profiles: {len(index)} profiles in {args.out} ({len(sizes)} sampled file sizes for the "
          "tail/middle rules)", file=sys.stderr)


if __name__ == "__main__":
    main()
