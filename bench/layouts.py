#!/usr/bin/env python3
"""Damage layouts applied to files of one format, and the verdict table of their scans.

Used by the encoder benches (bench/webp_encoders.sh): every file under SRC gets each layout,
written to OUT/files/<layout>/<name>; scans (steen scan --format jsonl, one per binary or option)
are then tallied per layout. Random bytes come from a seeded generator: the same files each run.

  layouts.py damage SRC OUT LAYOUT...        LAYOUT: a name below
  layouts.py report OUT NAME=SCAN.jsonl...   a Markdown table, one column group per scan
"""
import collections
import json
import os
import sys

import random

# Layouts: name -> (expected verdict, function(bytes, noise) -> bytes or None when not applicable).
LAYOUTS = {
    'intact': ('intact', lambda b, noise: b),
    'footer-1064': ('damaged', lambda b, noise: b + noise(1064)),
    'cut-3/4': ('unknown', lambda b, noise: b[:len(b) * 3 // 4]),
    'tail-64': ('damaged', lambda b, noise: b[:-64] + noise(64)),
    'tail-4k': ('damaged', lambda b, noise: b[:-4096] + noise(4096) if len(b) > 8192 else None),
    'mid-64k': ('damaged', lambda b, noise: (
        b[:len(b) // 2] + noise(65536) + b[len(b) // 2 + 65536:] if len(b) > 196608 else
        b[:len(b) // 3] + noise(2 * len(b) // 3 - len(b) // 3) + b[2 * len(b) // 3:])),
    'keep-4k': ('damaged', lambda b, noise: b[:4096] + noise(len(b) - 4096) if len(b) > 8192 else None),
    'stride-16of32-after-4k': ('damaged', lambda b, noise: (
        b[:4096] + b''.join(noise(16) + b[i + 16:i + 32] for i in range(4096, len(b), 32))[:len(b) - 4096]
        if len(b) > 8192 else None)),
    'bitflip-after-4k': ('damaged', lambda b, noise: (
        b[:4096] + bytes(255 - x for x in b[4096:]) if len(b) > 8192 else None)),
}


def damage(src, out, names):
    rng = random.Random(1486)
    noise = rng.randbytes
    for name in sorted(os.listdir(src)):
        data = open(os.path.join(src, name), 'rb').read()
        for layout in names:
            damaged = LAYOUTS[layout][1](data, noise)
            if damaged is None:
                continue
            folder = os.path.join(out, 'files', layout.replace('/', '_'))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, name), 'wb') as f:
                f.write(damaged)


def report(out, scans):
    """scans: [(column name, path of a jsonl scan)]."""
    tallies = []
    for _, path in scans:
        t = collections.defaultdict(collections.Counter)
        for line in open(path):
            o = json.loads(line)
            if 'verdict' in o:
                t[o['path'].split('/')[-2]][o['verdict']] += 1
        tallies.append(t)
    header = '| layout | expected | files |' + ''.join(
        f' {name}: damaged / unknown / intact |' for name, _ in scans)
    print(header)
    print('|---|---|---:|' + '---|' * len(scans))
    for layout, (expected, _) in LAYOUTS.items():
        key = layout.replace('/', '_')
        if key not in tallies[0]:
            continue
        files = sum(tallies[0][key].values())
        row = f'| {layout} | {expected} | {files} |'
        for t in tallies:
            c = t[key]
            row += f' {c["damaged"]} / {c["unknown"]} / {c["intact"]} |'
        print(row)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == 'damage':
        unknown = [n for n in sys.argv[4:] if n not in LAYOUTS]
        if unknown:
            sys.exit(f'layouts.py: unknown layout(s) {unknown}; known: {list(LAYOUTS)}')
        damage(sys.argv[2], sys.argv[3], sys.argv[4:] or list(LAYOUTS))
    elif len(sys.argv) >= 4 and sys.argv[1] == 'report':
        report(sys.argv[2], [arg.split('=', 1) for arg in sys.argv[3:]])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
