#!/usr/bin/env bash
# False positives on files applications write: SQLite databases (page sizes 512 to 65536,
# auto_vacuum, WAL with its -wal and -shm files, a rollback journal copied during a transaction,
# blobs that are random, zlib-compressed or JPEG, as browsers, photo managers and password stores
# keep them), a PostgreSQL cluster after a pgbench load (heap, index, free-space and visibility
# maps, WAL segments, transaction status; only where PostgreSQL is installed: the script does not
# install it, since Debian's package creates and starts a cluster of its own), a git repository (loose objects,
# packs, index) and a bundle of it, keys and certificates (OpenSSH with and without a passphrase,
# PEM and DER, PKCS#8 encrypted, PKCS#12, a Java keystore), arrays and model weights (NumPy,
# pickle, safetensors, GGUF), and text in legacy and wide encodings (Shift_JIS, EUC, GB18030,
# Big5, KOI8-R, UTF-16 with and without a byte-order mark, UTF-32, UTF-7). None of them is
# damaged: every "damaged" verdict is a false positive.
#
# Usage: bench/app_data.sh [--steen PATH] [--out DIR]      Seconds on 2 cores.
set -euo pipefail
. "$(dirname "$0")/fp_battery.sh"
fp_options app_data "$@"
rm -rf "$OUT"
D=$OUT/files
mkdir -p "$D/sqlite" "$D/keys"
PASS=not-a-secret-bench-passphrase

python3 - "$D/sqlite" << 'EOF'
import os, random, shutil, sqlite3, sys, zlib
random.seed(1)
out = sys.argv[1]
jpeg_like = bytes(random.getrandbits(8) for _ in range(20000))
def make(name, page=4096, wal=False, blobs="random", rows=300, size=3000, vacuum=None):
    path = os.path.join(out, name)
    db = sqlite3.connect(path)
    db.execute(f"pragma page_size={page}")
    if vacuum:
        db.execute(f"pragma auto_vacuum={vacuum}")
    if wal:
        db.execute("pragma journal_mode=wal")
    db.execute("create table t(id integer primary key, name text, data blob)")
    for i in range(rows):
        if blobs == "random":
            b = random.randbytes(size)
        elif blobs == "zlib":
            b = zlib.compress((("row %d " % i) * 400).encode() + random.randbytes(200))
        else:
            b = b"\xff\xd8\xff\xe0" + jpeg_like[: size - 4]
        db.execute("insert into t(name, data) values (?, ?)", ("name %d" % i, b))
    db.commit()
    return db
make("random-blobs.sqlite").close()
make("random-blobs-64k-pages.sqlite", page=65536).close()
make("random-blobs-512-pages.sqlite", page=512, size=400).close()
make("large-random-blobs.sqlite", size=200000, rows=40).close()
make("zlib-blobs.sqlite", blobs="zlib").close()
make("jpeg-blobs.sqlite", blobs="jpeg", size=20000, rows=100).close()
make("incremental-vacuum.sqlite", vacuum=2).close()
db = make("wal.sqlite", wal=True)  # open: its -wal and -shm files exist; copied as a backup would
for f in os.listdir(out):
    if f.startswith("wal.sqlite"):
        shutil.copy(os.path.join(out, f), os.path.join(out, "copy-" + f))
db.close()
# A rollback journal (SQLite's default mode) as it is on disk during a transaction that spilled
# its page cache; SQLite deletes it at the commit.
db = make("journal.sqlite", blobs="zlib", rows=2000)
db.isolation_level = None
db.execute("pragma cache_size=8")
db.execute("begin")
for i in range(1, 2001, 3):
    db.execute("update t set name = name || ' changed' where id = ?", (i,))
shutil.copy(os.path.join(out, "journal.sqlite-journal"), os.path.join(out, "copy-journal.sqlite-journal"))
db.execute("rollback")
db.close()
EOF

# PostgreSQL: a cluster in a temporary folder (bench/postgres_rig.sh), loaded by pgbench,
# stopped, and its data folder copied.
. "$(dirname "$0")/postgres_rig.sh"
if pg_available; then
  PGTMP=$(mktemp -d /tmp/steen-app-data-pg.XXXXXX)
  chown postgres "$PGTMP"
  stop_pg() { pg_stop "$PGTMP/data"; rm -rf "$PGTMP"; }
  trap stop_pg EXIT
  pg "$PGBIN/initdb" -D "$PGTMP/data" -A trust > /dev/null
  pg_start "$PGTMP/data" "$PGTMP" "$PGTMP/log"
  pg "$PGBIN/pgbench" -h "$PGTMP" -p "$PG_PORT" -q -i -s 4 postgres > /dev/null 2>&1
  pg "$PGBIN/pgbench" -h "$PGTMP" -p "$PG_PORT" -c 2 -t 3000 postgres > /dev/null 2>&1
  pg "$PGBIN/psql" -h "$PGTMP" -p "$PG_PORT" -q -d postgres -c "create table blobs(id int, b bytea);
    insert into blobs select i, decode(string_agg(md5(i::text || j::text), ''), 'hex')
    from generate_series(1, 300) i, generate_series(1, 200) j group by i;" > /dev/null
  pg_stop "$PGTMP/data"
  cp -a "$PGTMP/data" "$D/postgres"
  rm -f "$D/postgres/postmaster.opts"
  stop_pg
  trap - EXIT
else
  echo "app_data: PostgreSQL not installed: its cluster left out" >&2
fi

git clone -q --no-hardlinks "$ROOT" "$D/repo" 2> /dev/null || git -C "$ROOT" archive HEAD | tar -x -C "$D/repo"
git -C "$D/repo" gc -q 2> /dev/null || true
rm -rf "$D/repo/fuzz/corpus"  # parser test vectors, malformed on purpose (docs/LIMITS.md)
git -C "$D/repo" bundle create -q "$D/repo.bundle" HEAD 2> /dev/null || true
echo "loose object" > "$D/repo/loose.txt"
git -C "$D/repo" add loose.txt 2> /dev/null || true

K=$D/keys
ssh-keygen -q -t ed25519 -N "" -f "$K/id_ed25519"
ssh-keygen -q -t rsa -b 3072 -N "$PASS" -f "$K/id_rsa_passphrase"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/key.pem" -out "$K/cert.pem" -days 1 \
  -subj "/CN=steen bench" 2> /dev/null
openssl x509 -in "$K/cert.pem" -outform DER -out "$K/cert.der"
openssl pkcs8 -topk8 -in "$K/key.pem" -passout pass:"$PASS" -out "$K/key-encrypted.pem"
openssl pkcs8 -topk8 -in "$K/key.pem" -passout pass:"$PASS" -outform DER -out "$K/key-encrypted.der"
openssl pkcs12 -export -in "$K/cert.pem" -inkey "$K/key.pem" -passout pass:"$PASS" -out "$K/bundle.p12"
if command -v keytool > /dev/null; then
  keytool -genkeypair -alias bench -keyalg RSA -dname CN=bench -storepass "$PASS" \
    -keystore "$K/store.jks" -storetype JKS > /dev/null 2>&1 || true
fi

# Arrays and model weights as Python writes them: NumPy .npy (float32), pickles (protocols 2 and
# 5), safetensors, and quantized GGUF weights (made here without NumPy or PyTorch; the layouts are
# the formats' own).
mkdir -p "$D/models"
python3 - "$D/models" << 'PY'
import array, json, os, pickle, random, struct, sys
random.seed(2)
out = sys.argv[1]
weights = array.array("f", [random.gauss(0, 0.02) for _ in range(250000)]).tobytes()
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (250000,), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(os.path.join(out, "weights.npy"), "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + weights)
with open(os.path.join(out, "weights.pkl"), "wb") as f:
    pickle.dump({"w": weights, "bias": [random.random() for _ in range(1000)]}, f, protocol=5)
with open(os.path.join(out, "floats-p2.pkl"), "wb") as f:
    pickle.dump([random.random() for _ in range(50000)], f, protocol=2)
meta = json.dumps({"w": {"dtype": "F32", "shape": [250000], "data_offsets": [0, len(weights)]}})
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(meta)) + meta.encode() + weights)
with open(os.path.join(out, "model-q4.gguf"), "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + random.randbytes(1000000))
PY

# Text in legacy and wide encodings: man pages in Japanese, Korean, Russian and Chinese (UTF-8 in
# Debian), converted by iconv to what older systems and Windows wrote.
T=$D/text
mkdir -p "$T"
for lang in ja ko ru zh_CN zh_TW; do
  page=$(find "/usr/share/man/$lang" -name '*.gz' 2> /dev/null | sort | head -1)
  [[ -n $page ]] || continue
  zcat "$page" > "$T/$lang.utf8.txt"
  for enc in SHIFT_JIS EUC-JP ISO-2022-JP CP932 EUC-KR CP949 KOI8-R CP1251 CP866 ISO-8859-5 \
    GB18030 GBK BIG5 UTF-16 UTF-16BE UTF-16LE UTF-32 UTF-7; do
    iconv -f UTF-8 -t "$enc" "$T/$lang.utf8.txt" > "$T/$lang.$enc.txt" 2> /dev/null ||
      rm -f "$T/$lang.$enc.txt"  # characters the encoding lacks: not written
  done
done

fp_scan "$D"
