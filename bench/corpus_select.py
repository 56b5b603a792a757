#!/usr/bin/env python3
"""Selects steen's evaluation corpus from unpacked Debian packages (called by build_corpus.sh).

Python 3 standard library only. Walks <staging>/<package>/..., guesses a type from the extension
(or the location, for ELF binaries and man pages), confirms it with `file --mime-type`, removes
duplicates by sha256, caps each type (files and bytes), picks round-robin across packages so one
package cannot dominate a type, copies into <corpus>/<type>/<package>/<name> and writes
<corpus>/MANIFEST.tsv (type, path, size, sha256, source). Types below --min files are topped up by
converting real corpus files with Debian tools; the source column then reads
"converted-from:<corpus path of the real file> (<tool>)".
"""
import argparse
import collections
import gzip
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys

# Type -> (group, extensions, accepted mime types). Order = order of the table.
TYPES = [
    ("docx", "office", ["docx"], ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"]),
    ("xlsx", "office", ["xlsx"], ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]),
    ("pptx", "office", ["pptx"], ["application/vnd.openxmlformats-officedocument.presentationml.presentation"]),
    ("odt", "office", ["odt"], ["application/vnd.oasis.opendocument.text"]),
    ("ods", "office", ["ods"], ["application/vnd.oasis.opendocument.spreadsheet"]),
    ("odp", "office", ["odp"], ["application/vnd.oasis.opendocument.presentation"]),
    ("doc", "office", ["doc"], ["application/msword", "application/vnd.ms-office", "application/x-ole-storage",
                                "application/CDFV2"]),
    ("xls", "office", ["xls"], ["application/vnd.ms-excel", "application/vnd.ms-office", "application/x-ole-storage",
                                "application/CDFV2"]),
    ("ppt", "office", ["ppt"], ["application/vnd.ms-powerpoint", "application/vnd.ms-office",
                                "application/x-ole-storage", "application/CDFV2"]),
    ("pdf", "pdf", ["pdf"], ["application/pdf"]),
    ("jpeg", "image", ["jpg", "jpeg"], ["image/jpeg"]),
    ("png", "image", ["png"], ["image/png"]),
    ("gif", "image", ["gif"], ["image/gif"]),
    ("webp", "image", ["webp"], ["image/webp"]),
    ("tiff", "image", ["tif", "tiff"], ["image/tiff"]),
    ("bmp", "image", ["bmp"], ["image/bmp", "image/x-ms-bmp"]),
    ("svg", "image", ["svg"], ["image/svg+xml", "image/svg"]),
    ("mp3", "audio", ["mp3"], ["audio/mpeg"]),
    ("ogg", "audio", ["ogg", "oga"], ["audio/ogg", "audio/x-vorbis+ogg", "application/ogg"]),
    ("flac", "audio", ["flac"], ["audio/flac", "audio/x-flac"]),
    ("wav", "audio", ["wav"], ["audio/x-wav", "audio/wav", "audio/vnd.wave"]),
    ("m4a", "audio", ["m4a"], ["audio/x-m4a", "audio/mp4", "video/mp4"]),
    ("mp4", "video", ["mp4", "m4v"], ["video/mp4", "video/x-m4v"]),
    ("webm", "video", ["webm"], ["video/webm"]),
    ("mkv", "video", ["mkv"], ["video/x-matroska"]),
    ("avi", "video", ["avi"], ["video/x-msvideo"]),
    ("mov", "video", ["mov"], ["video/quicktime"]),
    ("zip", "archive", ["zip"], ["application/zip"]),
    ("jar", "archive", ["jar"], ["application/java-archive", "application/zip", "application/x-java-archive"]),
    ("epub", "archive", ["epub"], ["application/epub+zip", "application/zip"]),  # zip: checked below
    ("gz", "archive", ["gz", "tgz"], ["application/gzip", "application/x-gzip"]),
    ("bz2", "archive", ["bz2"], ["application/x-bzip2"]),
    ("xz", "archive", ["xz"], ["application/x-xz"]),
    ("zst", "archive", ["zst"], ["application/zstd"]),
    ("7z", "archive", ["7z"], ["application/x-7z-compressed"]),
    ("rar", "archive", ["rar"], ["application/x-rar", "application/vnd.rar", "application/x-rar-compressed"]),
    ("tar", "archive", ["tar"], ["application/x-tar"]),
    ("sqlite", "database", ["sqlite", "sqlite3", "db", "gpkg"], ["application/vnd.sqlite3", "application/x-sqlite3"]),
    ("elf", "executable", [], ["application/x-executable", "application/x-sharedlib", "application/x-pie-executable",
                               "application/x-object"]),
    ("pe", "executable", ["exe", "dll", "efi"], ["application/vnd.microsoft.portable-executable",
                                                 "application/x-dosexec", "application/x-msdownload"]),
    ("ttf", "font", ["ttf"], ["font/sfnt", "font/ttf", "application/x-font-ttf"]),
    ("otf", "font", ["otf"], ["font/sfnt", "font/otf", "application/vnd.ms-opentype"]),
    ("woff", "font", ["woff"], ["font/woff", "application/font-woff"]),
    ("woff2", "font", ["woff2"], ["font/woff2"]),
    ("txt", "text", ["txt"], ["text/plain"]),
    ("csv", "text", ["csv"], ["text/csv", "text/plain", "application/csv"]),
    ("xml", "text", ["xml"], ["text/xml", "application/xml"]),
    ("json", "text", ["json"], ["application/json", "text/plain"]),
    ("html", "text", ["html", "htm"], ["text/html"]),
    ("rtf", "text", ["rtf"], ["text/rtf", "application/rtf"]),
    ("eml", "text", ["eml"], ["message/rfc822"]),
    ("source", "text", ["c", "h", "cc", "cpp", "hpp", "py", "go", "rs", "java", "js", "pl", "rb", "sh"],
     ["text/x-c", "text/x-c++", "text/x-script.python", "text/x-python", "text/x-shellscript", "text/x-perl",
      "text/x-java", "text/x-go", "text/x-ruby", "application/javascript", "text/javascript", "text/plain"]),
    ("man", "text", [], ["application/gzip", "application/x-gzip"]),  # gunzipped Debian man pages
]
TYPE_INFO = {name: (group, exts, set(mimes)) for name, group, exts, mimes in TYPES}
EXT_TO_TYPE = {ext: name for name, _, exts, _ in TYPES for ext in exts}
MAN_RE = re.compile(r"/usr/share/man/.*\.gz$")
ELF_DIR_RE = re.compile(r"/(usr/)?s?bin/[^/]+$|\.so(\.[0-9]+)*$")
BATCH = 256
# Test-data packages ship deliberately broken files (xz's bad-*.xz, Go's archive/tar issueNNNN.tar,
# checkers' invalid_*.tiff). They are not intact files, so they stay out of the corpus; the names
# left out are listed in <corpus>/EXCLUDED.tsv.
MALFORMED_RE = re.compile(r"bad|fail|corrupt|invalid|broken|truncat|crash|malformed|bogus|neg-size|"
                          r"^issue[0-9]+\.|fuzz")


def guess_type(relpath):
    """Type guessed from the path alone; confirmed later with `file`."""
    if MAN_RE.search(relpath):
        return "man"
    base = os.path.basename(relpath).lower()
    ext = base.rsplit(".", 1)[-1] if "." in base else ""
    if ext in EXT_TO_TYPE:
        return EXT_TO_TYPE[ext]
    if ELF_DIR_RE.search(relpath):
        return "elf"
    return None


def mime_types(paths):
    """`file --mime-type` for many paths, one call per batch."""
    out = subprocess.run(["file", "-b", "--mime-type", "--"] + paths, capture_output=True, text=True,
                         check=False).stdout.splitlines()
    if len(out) != len(paths):  # a name `file` could not print on one line: ask one by one
        out = [subprocess.run(["file", "-b", "--mime-type", "--", p], capture_output=True, text=True,
                              check=False).stdout.strip() for p in paths]
    return out


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def scan_staging(staging, min_size, max_size):
    """Candidates per guessed type, per package: {type: {pkg: [abs path]}}."""
    candidates = collections.defaultdict(lambda: collections.defaultdict(list))
    excluded = []
    for pkg in sorted(os.listdir(staging)):
        root = os.path.join(staging, pkg)
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if "\n" in name or name == ".unpacked":
                    continue
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                size = os.path.getsize(path)
                if size < min_size or size > max_size:
                    continue
                kind = guess_type(path[len(root):])
                if kind and MALFORMED_RE.search(name.lower()):
                    excluded.append((kind, pkg, path[len(root):]))
                    continue
                if kind:
                    candidates[kind][pkg].append(path)
    return candidates, excluded


def round_robin(per_pkg, seed):
    """Deterministic order that alternates packages, each package's files shuffled by seed."""
    rng = random.Random(seed)
    queues = []
    for pkg in sorted(per_pkg):
        files = list(per_pkg[pkg])
        rng.shuffle(files)
        queues.append((pkg, collections.deque(files)))
    while queues:
        remaining = []
        for pkg, queue in queues:
            yield pkg, queue.popleft()
            if queue:
                remaining.append((pkg, queue))
        queues = remaining


def valid_content(kind, data_path):
    """Extra checks `file` cannot do cheaply."""
    if kind == "json":
        import json
        try:
            with open(data_path, "rb") as f:
                json.loads(f.read().decode("utf-8"))
            return True
        except (ValueError, UnicodeDecodeError):
            return False
    if kind == "epub":  # `file` often says application/zip: require the EPUB container file
        import zipfile
        try:
            with zipfile.ZipFile(data_path) as z:
                return "META-INF/container.xml" in z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
    return True


class Corpus:
    def __init__(self, root):
        self.root = root
        self.rows = []  # (type, relpath, size, sha, source)
        self.seen = set()
        self.count = collections.Counter()
        self.bytes = collections.Counter()

    def add_file(self, kind, pkg, src_path, source, data=None):
        """Copies src_path (or writes data) into the corpus unless its sha256 is already there."""
        sha = sha256_bytes(data) if data is not None else sha256_of(src_path)
        if sha in self.seen:
            return False
        self.seen.add(sha)
        name = os.path.basename(src_path)
        if kind == "man" and name.endswith(".gz"):
            name = name[:-3]
        rel = os.path.join(kind, pkg, name)
        if os.path.exists(os.path.join(self.root, rel)):
            rel = os.path.join(kind, pkg, sha[:8] + "-" + name)
        dest = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if data is not None:
            with open(dest, "wb") as f:
                f.write(data)
        else:
            shutil.copyfile(src_path, dest)
        size = os.path.getsize(dest)
        self.rows.append((kind, rel, size, sha, source))
        self.count[kind] += 1
        self.bytes[kind] += size
        return True


def select(candidates, corpus, cap, type_bytes, seed):
    for kind, _, _, _ in TYPES:
        per_pkg = candidates.get(kind)
        if not per_pkg:
            continue
        accepted_mimes = TYPE_INFO[kind][2]
        order = round_robin(per_pkg, f"{seed}:{kind}")
        done = False
        while not done:
            batch = []
            for item in order:
                batch.append(item)
                if len(batch) == BATCH:
                    break
            if not batch:
                break
            mimes = mime_types([path for _, path in batch])
            for (pkg, path), mime in zip(batch, mimes):
                if corpus.count[kind] >= cap or corpus.bytes[kind] >= type_bytes:
                    done = True
                    break
                if mime not in accepted_mimes:
                    continue
                if kind == "man":
                    try:
                        with gzip.open(path, "rb") as f:
                            data = f.read(8 << 20)
                    except (OSError, EOFError):
                        continue
                    if not data or b"\0" in data:
                        continue
                    corpus.add_file(kind, pkg, path, f"{pkg} (gunzip of {os.path.basename(path)})", data)
                    continue
                if not valid_content(kind, path):
                    continue
                corpus.add_file(kind, pkg, path, pkg)


# Top-up recipes: type -> list of (source types, tool, command builder(src, dst) or None if the tool
# is missing). Every output is a conversion of a REAL corpus file.
def have(tool):
    return shutil.which(tool) is not None


def ffmpeg(*args):
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-threads", "1"] + list(args)


X264 = ["-vf", "scale=-2:'min(360,ih)'", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
RECIPES = {
    "m4a": (["flac", "wav", "ogg", "mp3"], "ffmpeg",
            lambda s, d: ffmpeg("-i", s, "-t", "30", "-vn", "-c:a", "aac", "-b:a", "96k", d)),
    "mp3": (["flac", "wav", "ogg"], "ffmpeg",
            lambda s, d: ffmpeg("-i", s, "-t", "30", "-vn", "-c:a", "libmp3lame", "-q:a", "4", d)),
    "flac": (["wav", "ogg", "mp3"], "ffmpeg", lambda s, d: ffmpeg("-i", s, "-t", "30", "-vn", "-c:a", "flac", d)),
    "ogg": (["wav", "flac", "mp3"], "ffmpeg",
            lambda s, d: ffmpeg("-i", s, "-t", "30", "-vn", "-c:a", "libvorbis", "-q:a", "3", d)),
    "wav": (["flac", "ogg", "mp3"], "ffmpeg", lambda s, d: ffmpeg("-i", s, "-t", "20", "-vn", d)),
    "mov": (["mp4", "mkv", "webm", "avi"], "ffmpeg",
            lambda s, d: ffmpeg("-i", s, "-t", "15", *X264, "-c:a", "aac", d)),
    "mp4": (["webm", "mkv", "avi", "mov"], "ffmpeg",
            lambda s, d: ffmpeg("-i", s, "-t", "15", *X264, "-c:a", "aac", d)),
    "mkv": (["mp4", "webm", "avi", "mov"], "ffmpeg", lambda s, d: ffmpeg("-i", s, "-c", "copy", d)),
    "avi": (["mp4", "webm", "mkv", "mov"], "ffmpeg",
            lambda s, d: ffmpeg("-i", s, "-t", "15", "-vf", "scale=-2:'min(360,ih)'", "-c:v", "mpeg4", "-q:v", "5",
                                "-c:a", "libmp3lame", d)),
    "webm": (["mp4", "mkv", "mov", "avi"], "ffmpeg",
             lambda s, d: ffmpeg("-i", s, "-t", "10", "-vf", "scale=-2:'min(360,ih)'", "-c:v", "libvpx",
                                 "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k", "-c:a", "libvorbis", d)),
    "7z": (["pdf", "odt", "txt", "html", "docx", "xlsx", "png", "elf"], "7z",
           lambda s, d: ["7z", "a", "-bd", "-bso0", "-mmt=1", "-mx=5", d, s]),
    "zst": (["pdf", "txt", "html", "elf", "tar", "xml", "json", "csv"], "zstd",
            lambda s, d: ["zstd", "-q", "-f", "-T1", "-9", s, "-o", d]),
    "xz": (["pdf", "txt", "html", "elf", "xml"], "xz", lambda s, d: ["sh", "-c", 'xz -T1 -c "$0" > "$1"', s, d]),
    "bz2": (["pdf", "txt", "html", "elf", "xml"], "bzip2",
            lambda s, d: ["sh", "-c", 'bzip2 -c "$0" > "$1"', s, d]),
    "tar": (["pdf", "txt", "png", "odt", "html"], "tar",
            lambda s, d: ["tar", "-cf", d, "-C", os.path.dirname(s), os.path.basename(s)]),
    "sqlite": (["csv"], "sqlite3",
               lambda s, d: ["sqlite3", "-bail", d, ".mode csv", f".import '{s}' data"]),
    # LibreOffice (only if already installed: it is heavy): real OpenDocument -> Microsoft formats.
    "docx": (["odt"], "soffice", lambda s, d: soffice(s, d, "docx")),
    "doc": (["odt"], "soffice", lambda s, d: soffice(s, d, "doc")),
    "xlsx": (["ods"], "soffice", lambda s, d: soffice(s, d, "xlsx")),
    "xls": (["ods"], "soffice", lambda s, d: soffice(s, d, "xls")),
    "pptx": (["odp"], "soffice", lambda s, d: soffice(s, d, "pptx")),
    "odt": (["docx", "doc"], "soffice", lambda s, d: soffice(s, d, "odt")),
    "ods": (["xlsx", "xls"], "soffice", lambda s, d: soffice(s, d, "ods")),
    "odp": (["pptx", "ppt"], "soffice", lambda s, d: soffice(s, d, "odp")),
    "ppt": (["odp"], "soffice", lambda s, d: soffice(s, d, "ppt")),
}


def soffice(src, dst, fmt):
    out_dir = os.path.dirname(dst)
    base = os.path.splitext(os.path.basename(src))[0]
    script = ('soffice --headless --convert-to "$2" --outdir "$3" "$0" >/dev/null 2>&1 && '
              'mv "$3/$4.$2" "$1"')
    return ["sh", "-c", script, src, dst, fmt, out_dir, base]


def soffice_batch(root, pool, out_dir, fmt):
    """One LibreOffice start converts many files (a start costs seconds); results land in the cache
    under the names top_up expects (<sha16>.<fmt>), so the per-file recipe finds them done."""
    os.makedirs(out_dir, exist_ok=True)
    todo = [(rel, sha) for rel, _, sha in pool if not os.path.exists(os.path.join(out_dir, f"{sha[:16]}.{fmt}"))]
    if not todo:
        return
    tmp = os.path.join(out_dir, ".in")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    inputs = []
    for rel, sha in todo:
        link = os.path.join(tmp, sha[:16] + os.path.splitext(rel)[1])
        os.symlink(os.path.abspath(os.path.join(root, rel)), link)
        inputs.append(link)
    profile = "file://" + os.path.abspath(os.path.join(out_dir, "..", ".soffice-profile"))
    subprocess.run(["soffice", "-env:UserInstallation=" + profile, "--headless", "--norestore",
                    "--convert-to", fmt, "--outdir", out_dir] + inputs,
                   capture_output=True, check=False, timeout=1800)
    shutil.rmtree(tmp, ignore_errors=True)


def top_up(corpus, generated_dir, minimum, max_per_source_type):
    """Converts real corpus files into types with fewer than `minimum` files."""
    by_type = collections.defaultdict(list)
    for kind, rel, size, sha, _ in corpus.rows:
        by_type[kind].append((rel, size, sha))
    for kind, _, _, _ in TYPES:
        if kind not in RECIPES or corpus.count[kind] >= minimum:
            continue
        sources, tool, build = RECIPES[kind]
        if not have(tool):
            print(f"corpus_select: {kind}: {corpus.count[kind]} files; {tool} not installed, no top-up",
                  file=sys.stderr)
            continue
        pool = []
        for src_kind in sources:
            # Small sources first (fast conversions), deterministic.
            pool.extend(sorted(by_type.get(src_kind, []), key=lambda r: (r[1], r[0]))[:max_per_source_type])
        if tool == "soffice":
            soffice_batch(corpus.root, pool[:2 * minimum], os.path.join(generated_dir, kind), kind)
        attempts = 0
        for rel, size, sha in pool:
            if corpus.count[kind] >= minimum or attempts > 3 * minimum:
                break
            attempts += 1
            src = os.path.join(corpus.root, rel)
            out_dir = os.path.join(generated_dir, kind)
            os.makedirs(out_dir, exist_ok=True)
            out = os.path.join(out_dir, f"{sha[:16]}.{kind}")
            if not os.path.exists(out) and tool == "soffice":
                continue  # soffice_batch already tried this one
            if not os.path.exists(out):
                tmp = out + ".part." + kind
                result = subprocess.run(build(src, tmp), capture_output=True, check=False)
                if result.returncode != 0 or not os.path.exists(tmp) or os.path.getsize(tmp) == 0:
                    if os.path.exists(tmp):
                        os.remove(tmp)
                    continue
                os.replace(tmp, out)
            mime = mime_types([out])[0]
            if mime not in TYPE_INFO[kind][2]:
                continue
            stem = os.path.splitext(os.path.basename(rel))[0]
            named = os.path.join(os.path.dirname(out), f"{stem}.{kind}")
            with open(out, "rb") as f:
                data = f.read()
            corpus.add_file(kind, "converted", named, f"converted-from:{rel} ({tool})", data)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--staging", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--cap", type=int, default=150)
    parser.add_argument("--min", type=int, default=30)
    parser.add_argument("--max-file-mb", type=int, default=48)
    parser.add_argument("--type-mb", type=int, default=300)
    parser.add_argument("--min-size", type=int, default=32, help="skip files smaller than this (bytes)")
    parser.add_argument("--seed", default="steen-corpus-1")
    args = parser.parse_args()

    # Rebuilt every run (idempotent); only the corpus folder's own contents are removed.
    for entry in os.listdir(args.corpus) if os.path.isdir(args.corpus) else []:
        path = os.path.join(args.corpus, entry)
        if os.path.isdir(path) and entry in TYPE_INFO:
            shutil.rmtree(path)
        elif entry in ("MANIFEST.tsv", "EXCLUDED.tsv"):
            os.remove(path)
    os.makedirs(args.corpus, exist_ok=True)

    candidates, excluded = scan_staging(args.staging, args.min_size, args.max_file_mb << 20)
    with open(os.path.join(args.corpus, "EXCLUDED.tsv"), "w", encoding="utf-8") as f:
        f.write("type\tpackage\tpath\treason\n")
        for kind, pkg, rel in excluded:
            f.write(f"{kind}\t{pkg}\t{rel}\tname marks a deliberately malformed test file\n")
    corpus = Corpus(args.corpus)
    select(candidates, corpus, args.cap, args.type_mb << 20, args.seed)
    if args.min > 0:
        top_up(corpus, args.generated, args.min, max_per_source_type=max(args.min, 40))

    corpus.rows.sort(key=lambda r: (r[0], r[1]))
    with open(os.path.join(args.corpus, "MANIFEST.tsv"), "w", encoding="utf-8") as f:
        f.write("type\tpath\tsize\tsha256\tsource\n")
        for kind, rel, size, sha, source in corpus.rows:
            f.write(f"{kind}\t{rel}\t{size}\t{sha}\t{source}\n")

    converted = collections.Counter(r[0] for r in corpus.rows if r[4].startswith("converted-from:"))
    packages = collections.defaultdict(set)
    for kind, rel, _, _, source in corpus.rows:
        packages[kind].add(rel.split("/")[1])
    print(f"{'type':<8} {'group':<10} {'files':>6} {'converted':>9} {'pkgs':>5} {'MiB':>8}")
    total_files = total_bytes = 0
    for kind, group, _, _ in TYPES:
        n = corpus.count[kind]
        total_files += n
        total_bytes += corpus.bytes[kind]
        print(f"{kind:<8} {group:<10} {n:>6} {converted[kind]:>9} {len(packages[kind]):>5} "
              f"{corpus.bytes[kind] / 2**20:>8.1f}")
    print(f"({len(excluded)} files named as deliberately malformed test data left out: EXCLUDED.tsv)")
    print(f"{'total':<8} {'':<10} {total_files:>6} {sum(converted.values()):>9} {'':>5} "
          f"{total_bytes / 2**20:>8.1f}")


if __name__ == "__main__":
    main()
