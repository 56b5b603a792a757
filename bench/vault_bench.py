#!/usr/bin/env python3
"""Helpers of bench/vault_matrix.sh and bench/vault_overhead.sh (Python 3 standard library only).

  vault_bench.py snapshot DIR OUT.json
      sha256 and size of every regular file under DIR (relative paths; the drill's marker
      .steen-drill-target is left out, as in tests/e2e/vault_rollback_test.sh).
  vault_bench.py compare BEFORE.json AFTER.json [--canaries NAMES.txt --root-name NAME]
      Prints TAB-separated: identical lost extra canaries first_differences.
      lost = files of BEFORE missing from AFTER or with other bytes; extra = files of AFTER not in
      BEFORE. With --canaries, an extra file whose name is a canary name of its folder (one
      template a line, "{folder}" = the folder's name, the share's own name at the top) is counted
      as a canary, not as an extra file: the daemon placed it, the drill did not.
  vault_bench.py changed BEFORE.json AFTER.json
      Prints the number of files of BEFORE that AFTER lacks or holds with other bytes: the files
      an attack really damaged (a file the drill opened for writing and was stopped before it
      wrote is not among them; files it created, canaries included, are not either).
  vault_bench.py manifest M.jsonl [--before BEFORE.json]
      Prints TAB-separated: files canaries effective_pattern rename overwritten_bytes range_bytes
      files = "op":"file" lines (the files the drill started to change; each line is written
      before the first change of that file) naming a file of BEFORE; canaries = the other ones
      (files the daemon placed after the snapshot); overwritten_bytes = sum of the sizes before
      the attack of all of them (what the vault must hold to restore them: canaries are restored
      too); range_bytes = sum of the ranges the layout changes (partial encryption changes far
      fewer bytes than the file it makes unreadable).
  vault_bench.py vault VAULT_DIR
      Prints TAB-separated: bytes disk_bytes objects sole_links
      bytes = apparent size of objects/ plus kept links (links/) that are the inode's last name
      (a deleted or renamed-over original: only the vault keeps it); disk_bytes = the same in
      allocated blocks; objects = object files; sole_links = such links.
  vault_bench.py matrix TSV
      Markdown tables (profiles x patterns, one table per canary setting) and totals.

Benign workloads of bench/vault_overhead.sh:
  vault_bench.py mkfiles DIR N SEED [--ext .txt] [--min 4096] [--max 65536]
      N text files of MIN..MAX bytes (uniform, seeded) cut from the licence texts Debian ships
      (/usr/share/common-licenses), in 10 subfolders: real prose, not random bytes.
  vault_bench.py edit DIR
      Edits every doc*.txt file (those of mkfiles) in place as a save does: read, change a few
      words and the first line, write it back through the same open (O_RDWR, no new file),
      truncate to the new size.
  vault_bench.py append DIR ROUNDS LINES
      ROUNDS times: each *.log file opened for append, LINES log lines written, closed (a logger
      that reopens its files).
  vault_bench.py mkdb DB ROWS SEED [--journal wal|delete]
      An SQLite database of ROWS invoice rows (text and numbers, one index) in journal mode WAL or
      DELETE (the default rollback journal), as an application's data file.
  vault_bench.py dbload DB TRANSACTIONS ROWS [--journal wal|delete]
      TRANSACTIONS write transactions on DB (one connection, synchronous=NORMAL in WAL mode, FULL
      with the rollback journal, as SQLite's defaults for each): ROWS inserts and ROWS/4 updates
      of existing rows each, then a checkpoint in WAL mode.
  vault_bench.py timeit OUT -- CMD...
      Runs CMD, writes its wall time in seconds (perf_counter) and exit status to OUT.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

from corpus_select import sha256_of  # noqa: E402 (same folder)
from evaluate import read_tsv  # noqa: E402 (same folder)

MARKER = ".steen-drill-target"
PATTERNS = ["pwrite", "mmap", "new-file-unlink", "move-out-back", "rename-first", "profile"]
PATTERN_TITLES = {
    "profile": "the profile's own pattern",
    "pwrite": "in place (pwrite)",
    "mmap": "mmap",
    "new-file-unlink": "new file + unlink",
    "move-out-back": "move out and back",
    "rename-first": "rename first (pwrite)",
}


def snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel == MARKER or os.path.islink(path) or not os.path.isfile(path):
                continue
            out[rel] = [os.path.getsize(path), sha256_of(path)]
    return out


def cmd_snapshot(args):
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(snapshot(args.dir), f, indent=0, sort_keys=True)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def changed_files(before, after):
    return [p for p in before if after.get(p, [None, None])[1] != before[p][1]]


def cmd_changed(args):
    print(len(changed_files(load_json(args.before), load_json(args.after))))


def canary_names(templates, folder):
    return {t.replace("{folder}", folder) for t in templates}


def cmd_compare(args):
    before = load_json(args.before)
    after = load_json(args.after)
    templates = []
    if args.canaries:
        with open(args.canaries, encoding="utf-8") as f:
            templates = [line.rstrip("\n") for line in f if line.strip()]
    lost = changed_files(before, after)
    extra, canaries = [], []
    for p in after:
        if p in before:
            continue
        folder = os.path.dirname(p)
        folder_name = os.path.basename(folder) if folder else args.root_name
        if templates and os.path.basename(p) in canary_names(templates, folder_name):
            canaries.append(p)
        else:
            extra.append(p)
    diffs = ["lost:" + p for p in sorted(lost)[:3]] + ["extra:" + p for p in sorted(extra)[:3]]
    identical = "yes" if not lost and not extra else "no"
    print("\t".join([identical, str(len(lost)), str(len(extra)), str(len(canaries)),
                     ";".join(diffs) or "-"]))


def manifest_lines(path):
    base = path
    paths = [base]
    sidecar = base + ".d"
    if os.path.isdir(sidecar):  # --processes: each worker logs to its own part
        paths += sorted(os.path.join(sidecar, n) for n in os.listdir(sidecar)
                        if n.startswith("part-") and n.endswith(".jsonl"))
    for p in paths:
        try:
            with open(p, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue  # a line cut by the kill
        except OSError:
            continue


def cmd_manifest(args):
    before = None
    if args.before:
        before = load_json(args.before)
    files, canaries, overwritten, ranges = 0, 0, 0, 0
    pattern, rename = "-", "-"
    for e in manifest_lines(args.manifest):
        if e.get("op") == "run":
            pattern = e.get("pattern", "-")
            rename = e.get("rename", "-")
        elif e.get("op") == "file":
            if before is None or e.get("path", "") in before:
                files += 1
            else:
                canaries += 1  # not in the share before the daemon started: one it placed
            overwritten += int(e.get("size", 0))
            ranges += sum(int(r[1]) for r in e.get("ranges", []))
    print("\t".join([str(files), str(canaries), pattern, rename, str(overwritten), str(ranges)]))


def cmd_vault(args):
    """Bytes the vault keeps: its distinct objects (by the catalog: files in objects/ and ranges
    of pack files in packs/) plus kept links that are an inode's last name; and what that takes
    on disk (blocks of objects/, packs/ and those links)."""
    total, disk, objects, sole = 0, 0, 0, 0
    catalog = os.path.join(args.vault, "catalog.db")
    if os.path.exists(catalog):
        import sqlite3
        db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=10)
        try:
            row = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (SELECT sha256, "
                             "MAX(size) AS size FROM versions GROUP BY sha256)").fetchone()
            objects, total = int(row[0]), int(row[1])
        finally:
            db.close()
    for sub, sole_only in (("objects", False), ("packs", False), ("links", True)):
        for dirpath, _, filenames in os.walk(os.path.join(args.vault, sub)):
            for name in filenames:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if sole_only and st.st_nlink != 1:
                    continue
                disk += st.st_blocks * 512
                if sole_only:
                    total += st.st_size
                    sole += 1
    print("\t".join(str(v) for v in (total, disk, objects, sole)))


def cell(r):
    if r["status"] == "refused":
        return "n/a"
    mark = "✓" if r["identical"] == "yes" else "✗"
    text = f'{r["damaged"]} {mark}'
    notes = []
    if r.get("changed", "-") not in ("-", "", r["damaged"]):
        notes.append(f'{r["changed"]} changed')
    if r.get("canaries_hit", "0") not in ("0", "-"):
        notes.append(f'+{r["canaries_hit"]} canary')
    if r["stopped"] != "yes":
        notes.append("not stopped")
    if r["incident"] == "-":
        notes.append("no incident")
    if r["identical"] != "yes" and int(r["lost"]) > 0:
        notes.append(f'{r["lost"]} lost')
    if r["identical"] != "yes" and int(r["extra"]) > 0:
        notes.append(f'{r["extra"]} extra')
    if r["rollback_rc"] not in ("0", "-"):
        notes.append(f'rollback exit {r["rollback_rc"]}')
    want = "pwrite" if r["pattern"] == "rename-first" else r["pattern"]
    if r["effective_pattern"] not in (want, "-"):
        notes.append(f'ran as {r["effective_pattern"]}')
    if notes:
        text += " (" + ", ".join(notes) + ")"
    return text


def ratio(r):
    over = int(r["overwritten_bytes"])
    return int(r["vault_bytes"]) / over if over > 0 else None


def cmd_matrix(args):
    rows = read_tsv(args.tsv)
    settings = []
    for r in rows:
        if r["canaries"] not in settings:
            settings.append(r["canaries"])
    for setting in settings:
        sel = [r for r in rows if r["canaries"] == setting]
        profiles = []
        for r in sel:
            if r["profile"] not in profiles:
                profiles.append(r["profile"])
        patterns = [p for p in PATTERNS if any(r["pattern"] == p for r in sel)]
        by = {(r["profile"], r["pattern"]): r for r in sel}
        print(f"#### Canaries {setting}"
              + (" (the default configuration)" if setting == "on" else
                 " (`-o canaries.enabled=false`: content judgement alone)") + "\n")
        print("| profile | " + " | ".join(PATTERN_TITLES[p] for p in patterns) + " |")
        print("|---|" + "---|" * len(patterns))
        for prof in profiles:
            cells = [cell(by[(prof, p)]) if (prof, p) in by else "" for p in patterns]
            print(f"| {prof} | " + " | ".join(cells) + " |")
        ran = [r for r in sel if r["status"] != "refused"]
        refused = len(sel) - len(ran)
        # Profiles whose own pattern keeps the original (new-file-keep: an encrypted container
        # next to it, as ART's T1486 tests do) destroy nothing: there is nothing to stop.
        keep = [r for r in ran if r.get("effective_pattern") == "new-file-keep"]
        if keep:
            print(f"\nOriginals kept by the profile's own pattern (new-file-keep), nothing destroyed: "
                  + ", ".join(r["profile"] for r in keep) + " (not counted below).")
            ran = [r for r in ran if r not in keep]
        identical = [r for r in ran if r["identical"] == "yes"]
        stopped = [r for r in ran if r["stopped"] == "yes"]
        lost = sum(int(r["lost"]) for r in ran)
        ratios = [x for x in (ratio(r) for r in ran) if x is not None]
        disk_ratios = [int(r["vault_disk_bytes"]) / int(r["overwritten_bytes"])
                       for r in ran if int(r["overwritten_bytes"]) > 0]
        over_11 = [r for r in ran if ratio(r) is not None and ratio(r) > 1.1]
        print()
        hit = sum(int(r.get("canaries_hit", "0") or 0) for r in ran if r.get("canaries_hit", "-") != "-")
        def spread(column):
            values = [int(r[column]) for r in ran if r.get(column, "-") not in ("-", "")]
            if not values:
                return "not recorded"
            return f"{sum(values)} (median {statistics.median(values):g}, max {max(values)})"
        print(f"Runs: {len(ran)} ({refused} refused by the drill: n/a); stopped by steen: "
              f"{len(stopped)}; byte-identical after rollback: {len(identical)}; files damaged "
              f"before the stop (opened for writing by the drill): {spread('damaged')}; of them "
              f"changed (other bytes or gone when stopped): {spread('changed')}; canaries hit: "
              f"{hit}; files lost: {lost}.")
        if ratios:
            print(f"Vault bytes / bytes overwritten (runs where the drill changed a file, canaries included, "
                  f"{len(ratios)}): median {statistics.median(ratios):.2f}, max {max(ratios):.2f}"
                  f"; in allocated blocks median {statistics.median(disk_ratios):.2f}, max "
                  f"{max(disk_ratios):.2f}; runs above 1.1: {len(over_11)}.")
        print()
        bad = [r for r in ran if r["identical"] != "yes" or r["stopped"] != "yes"
               or r["rollback_rc"] not in ("0",)]
        if bad:
            print("Runs not stopped, not rolled back cleanly or not byte-identical:\n")
            for r in bad:
                print(f'- {r["profile"]} / {r["pattern"]}: damaged {r["damaged"]}, stopped '
                      f'{r["stopped"]}, incident {r["incident"]}, rollback exit {r["rollback_rc"]} '
                      f'(restored {r["restored"]}, recreated {r["recreated"]}, renamed back '
                      f'{r["renamed_back"]}, removed {r["removed"]}, failed {r["failed"]}), '
                      f'identical {r["identical"]}, lost {r["lost"]}, extra {r["extra"]}: '
                      f'{r["differences"]}')
            print()
        if over_11:
            print("Runs whose vault holds more than 1.1x the bytes overwritten:\n")
            for r in sorted(over_11, key=ratio, reverse=True):
                print(f'- {r["profile"]} / {r["pattern"]}: {ratio(r):.2f} ({r["vault_bytes"]} B in '
                      f'{r["objects"]} objects + {r["sole_links"]} sole links, for '
                      f'{r["damaged"]} files of {r["overwritten_bytes"]} B)')
            print()


def licence_text():
    base = "/usr/share/common-licenses"
    parts = []
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as f:
                parts.append(f.read())
    return b"\n".join(parts)


def cmd_mkfiles(args):
    text = licence_text()
    rng = random.Random(args.seed)
    for i in range(args.n):
        size = rng.randint(args.min, args.max)
        out = bytearray()
        while len(out) < size:
            start = rng.randrange(0, len(text) - 1)
            out += text[start:start + size - len(out)]
        folder = os.path.join(args.dir, f"dept{i % 10:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"doc{i:05d}{args.ext}"), "wb") as f:
            f.write(out)


def cmd_mkproject(args):
    """A C project to unpack and build: modules of plain functions, a header, a Makefile that
    compiles them into objects, a static library and a program (what `make` of a source tree
    writes: .o, .a, .d and an ELF executable)."""
    rng = random.Random(args.seed)
    src = os.path.join(args.dir, "src")
    os.makedirs(src, exist_ok=True)
    names = [f"mod{i:03d}" for i in range(args.modules)]
    with open(os.path.join(src, "mods.h"), "w", encoding="ascii") as h:
        h.write("#pragma once\n#include <stddef.h>\n")
        for n in names:
            h.write(f"long {n}_run(const long *v, size_t n);\n")
    for n in names:
        lines = [f'#include "mods.h"', "#include <string.h>", ""]
        for k in range(args.functions):
            a, b = rng.randint(3, 97), rng.randint(1, 1 << 20)
            lines += [f"static long {n}_f{k}(const long *v, size_t n) {{",
                      f"  long acc = {b};",
                      "  for (size_t i = 0; i < n; ++i) {",
                      f"    acc = acc * {a} + (v[i] ^ (acc >> {rng.randint(1, 13)}));",
                      f"    if (acc % {rng.randint(5, 50)} == 0) acc += (long)i;",
                      "  }",
                      "  return acc;",
                      "}", ""]
        calls = " + ".join(f"{n}_f{k}(v, n)" for k in range(args.functions))
        lines += [f"long {n}_run(const long *v, size_t n) {{ return {calls}; }}", ""]
        with open(os.path.join(src, f"{n}.c"), "w", encoding="ascii") as f:
            f.write("\n".join(lines))
    with open(os.path.join(src, "main.c"), "w", encoding="ascii") as f:
        f.write('#include <stdio.h>\n#include "mods.h"\nint main(void) {\n'
                "  long v[64];\n  for (int i = 0; i < 64; ++i) v[i] = i * 7;\n  long t = 0;\n")
        for n in names:
            f.write(f"  t += {n}_run(v, 64);\n")
        f.write('  printf("%ld\\n", t);\n  return 0;\n}\n')
    objs = " ".join(f"{n}.o" for n in names)
    with open(os.path.join(src, "Makefile"), "w", encoding="ascii") as f:
        f.write("CFLAGS = -O2 -g -MMD -Wall\n"
                f"OBJS = {objs}\n"
                "app: main.o libmods.a\n\t$(CC) -o $@ main.o libmods.a\n"
                "libmods.a: $(OBJS)\n\tar rcs $@ $(OBJS)\n"
                "-include $(OBJS:.o=.d) main.d\n")


def cmd_edit(args):
    n = 0
    for dirpath, _, filenames in os.walk(args.dir):
        for name in sorted(filenames):
            if not (name.startswith("doc") and name.endswith(".txt")):
                continue  # only the files mkfiles made (never the daemon's canaries)
            path = os.path.join(dirpath, name)
            fd = os.open(path, os.O_RDWR)
            try:
                data = b""
                while True:
                    block = os.read(fd, 1 << 16)
                    if not block:
                        break
                    data += block
                line_end = data.find(b"\n")
                head = b"Revised %d: " % n
                body = data.replace(b"License", b"Licence").replace(b" the ", b" THE ", 3)
                new = head + body[line_end + 1:] if line_end >= 0 else head + body
                os.pwrite(fd, new, 0)
                os.ftruncate(fd, len(new))
            finally:
                os.close(fd)
            n += 1
    print(n)


def cmd_append(args):
    logs = []
    for dirpath, _, filenames in os.walk(args.dir):
        logs += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".log")]
    for r in range(args.rounds):
        for i, path in enumerate(logs):
            with open(path, "a", encoding="ascii") as f:
                for k in range(args.lines):
                    f.write(f"2024-05-{1 + r % 28:02d}T10:{k % 60:02d}:00Z host{i} app[{1000 + k}]: "
                            f"request {r * args.lines + k} served in {(k * 7) % 300} ms\n")


def invoice_row(rng, i):
    customer = f"customer-{rng.randrange(5000):05d}"
    note = " ".join(rng.choice(("paid", "due", "net 30", "partial", "refund", "VAT 21%",
                                "delivered", "pending", "cancelled")) for _ in range(rng.randint(2, 8)))
    return (i, customer, rng.randint(1, 500_000) / 100, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
            note)


def open_db(path, journal):
    import sqlite3
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA journal_mode={journal.upper()}")
    db.execute("PRAGMA synchronous=" + ("NORMAL" if journal == "wal" else "FULL"))
    return db


def cmd_mkdb(args):
    rng = random.Random(args.seed)
    db = open_db(args.db, args.journal)
    db.execute("CREATE TABLE invoice(id INTEGER PRIMARY KEY, customer TEXT, amount REAL, "
               "day TEXT, note TEXT)")
    db.execute("CREATE INDEX invoice_customer ON invoice(customer)")
    db.execute("BEGIN")
    db.executemany("INSERT INTO invoice VALUES(?,?,?,?,?)",
                   (invoice_row(rng, i) for i in range(args.rows)))
    db.execute("COMMIT")
    db.close()


def cmd_dbload(args):
    rng = random.Random(args.transactions)
    db = open_db(args.db, args.journal)
    next_id = db.execute("SELECT max(id) FROM invoice").fetchone()[0] + 1
    for _ in range(args.transactions):
        db.execute("BEGIN")
        db.executemany("INSERT INTO invoice VALUES(?,?,?,?,?)",
                       (invoice_row(rng, next_id + k) for k in range(args.rows)))
        db.executemany("UPDATE invoice SET note = note || ' (reminded)' WHERE id = ?",
                       ((rng.randrange(next_id),) for _ in range(args.rows // 4)))
        db.execute("COMMIT")
        next_id += args.rows
    if args.journal == "wal":
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def cmd_timeit(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    t0 = time.perf_counter()
    rc = subprocess.call(cmd)
    elapsed = time.perf_counter() - t0
    with open(args.out, "w", encoding="ascii") as f:
        f.write(f"{elapsed:.6f}\t{rc}\n")
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("snapshot")
    p.add_argument("dir")
    p.add_argument("out")
    p.set_defaults(fn=cmd_snapshot)
    p = sub.add_parser("compare")
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--canaries")
    p.add_argument("--root-name", default="")
    p.set_defaults(fn=cmd_compare)
    p = sub.add_parser("changed")
    p.add_argument("before")
    p.add_argument("after")
    p.set_defaults(fn=cmd_changed)
    p = sub.add_parser("manifest")
    p.add_argument("manifest")
    p.add_argument("--before")
    p.set_defaults(fn=cmd_manifest)
    p = sub.add_parser("vault")
    p.add_argument("vault")
    p.set_defaults(fn=cmd_vault)
    p = sub.add_parser("matrix")
    p.add_argument("tsv")
    p.set_defaults(fn=cmd_matrix)
    p = sub.add_parser("mkfiles")
    p.add_argument("dir")
    p.add_argument("n", type=int)
    p.add_argument("seed", type=int)
    p.add_argument("--ext", default=".txt")
    p.add_argument("--min", type=int, default=4096)
    p.add_argument("--max", type=int, default=65536)
    p.set_defaults(fn=cmd_mkfiles)
    p = sub.add_parser("mkproject")
    p.add_argument("dir")
    p.add_argument("modules", type=int)
    p.add_argument("functions", type=int)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(fn=cmd_mkproject)
    p = sub.add_parser("edit")
    p.add_argument("dir")
    p.set_defaults(fn=cmd_edit)
    p = sub.add_parser("append")
    p.add_argument("dir")
    p.add_argument("rounds", type=int)
    p.add_argument("lines", type=int)
    p.set_defaults(fn=cmd_append)
    for name, counts, fn in (("mkdb", ("rows", "seed"), cmd_mkdb),
                             ("dbload", ("transactions", "rows"), cmd_dbload)):
        p = sub.add_parser(name)
        p.add_argument("db")
        for count in counts:
            p.add_argument(count, type=int)
        p.add_argument("--journal", choices=("wal", "delete"), default="wal")
        p.set_defaults(fn=fn)
    p = sub.add_parser("timeit")
    p.add_argument("out")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_timeit)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
