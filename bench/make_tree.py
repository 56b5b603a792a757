#!/usr/bin/env python3
"""Makes a tree of many small text files for the memory benchmarks (bench/memory.sh,
bench/watch_memory.sh): N files of varied content, 1,000 per folder, in ROOT/dNNN/ (folders
wrap around after 1,000: file i is ROOT/d<(i // 1000) % 1000>/f<i // 1000000><i % 1000>.txt).

Usage: bench/make_tree.py ROOT N
       bench/make_tree.py --path ROOT I     prints file i's path (for workloads over the tree)
"""
import os
import sys

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
         "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def path_of(root, i):
    return os.path.join(root, f"d{(i // 1000) % 1000:03d}", f"f{i // 1000000:02d}{i % 1000:03d}.txt")


def make(root, total):
    for i in range(total):
        if i % 1000 == 0:
            os.makedirs(os.path.dirname(path_of(root, i)), exist_ok=True)
        line = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(8 + i % 24))
        with open(path_of(root, i), "w") as f:
            f.write(f"record {i}: {line}\n" * (1 + i % 5))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--path":
        print(path_of(sys.argv[2], int(sys.argv[3])))
    elif len(sys.argv) == 3:
        make(sys.argv[1], int(sys.argv[2]))
    else:
        sys.exit(__doc__)
