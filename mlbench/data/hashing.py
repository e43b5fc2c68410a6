"""Content hashes: BLAKE3, streamed, with a stat cache so unchanged files are not read again.

A file's hash is the BLAKE3 of its bytes. A folder's hash is the BLAKE3 of its file list: one
line ``path NUL size NUL hash LF`` per file, sorted by path (bytewise, UTF-8), so it changes when
any file's content, name or place changes and not when only timestamps do.

Files are read in 4 MiB chunks into one reused buffer (never whole into memory); BLAKE3 uses
both cores on large chunks. :class:`HashCache` remembers ``(size, mtime, ctime, inode) -> hash``
for local files (and ``(size, ETag/mtime) -> hash`` for remote ones) in a small SQLite file in
the workspace, like git's index: re-versioning a 10,000-file folder after changing one file reads
one file. An entry is trusted only if the file had not changed for a moment when it was hashed
(a write in the same timestamp tick could otherwise go unnoticed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import blake3

ALGORITHM = "blake3"
CHUNK = 4 * 1024 * 1024
_THREADS_FROM = 1024 * 1024  # below this, one thread is faster than spreading the work
RACY_NS_FINE = 50_000_000  # a file changed this recently is hashed again next time
RACY_NS_COARSE = 2_000_000_000  # (filesystems with whole-second timestamps)


def hash_stream(f: BinaryIO, size_hint: int | None = None) -> str:
    """BLAKE3 of a binary stream, read in chunks into one reused buffer."""
    threads = blake3.blake3.AUTO if (size_hint or 0) >= _THREADS_FROM else 1
    h = blake3.blake3(max_threads=threads)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    readinto = getattr(f, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buf)
            if not n:
                break
            h.update(view[:n])
        else:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, os.fstat(f.fileno()).st_size)


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One file of a folder (or the one file of a file asset)."""

    path: str
    size: int
    hash: str


def tree_hash(entries: Iterable[Entry]) -> str:
    h = blake3.blake3()
    for e in sorted(entries, key=lambda e: e.path.encode()):
        h.update(f"{e.path}\0{e.size}\0{e.hash}\n".encode())
    return h.hexdigest()


def encode_manifest(entries: list[Entry]) -> bytes:
    rows = [[e.path, e.size, e.hash] for e in sorted(entries, key=lambda e: e.path.encode())]
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 6)


def decode_manifest(blob: bytes) -> list[Entry]:
    return [Entry(str(p), int(s), str(h)) for p, s, h in json.loads(zlib.decompress(blob))]


@dataclass
class Scan:
    """What hashing a file or folder found."""

    entries: list[Entry]
    is_dir: bool
    content_hash: str
    size: int
    rehashed: int = 0
    rehashed_bytes: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def file_count(self) -> int:
        return len(self.entries)


class HashCache:
    """``key -> (stamp, hash)`` in ``<workspace>/cache/hashes.sqlite`` (local to this machine)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS files "
                "(key TEXT PRIMARY KEY, stamp TEXT NOT NULL, hash TEXT NOT NULL) WITHOUT ROWID"
            )
            self._local.conn = conn
        return conn

    def under(self, prefix: str) -> dict[str, tuple[str, str]]:
        """Entries whose key starts with ``prefix``."""
        rows = self._conn().execute(
            "SELECT key, stamp, hash FROM files WHERE key >= ? AND key < ?",
            (prefix, prefix + "\U0010ffff"),
        )
        return {k: (s, h) for k, s, h in rows}

    def get(self, key: str) -> tuple[str, str] | None:
        row = self._conn().execute("SELECT stamp, hash FROM files WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    def put_many(self, rows: list[tuple[str, str, str]]) -> None:
        if not rows:
            return
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO files (key, stamp, hash) VALUES (?, ?, ?)", rows
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _settled(st: os.stat_result, now_ns: int) -> bool:
    """True when a later write could not keep the same timestamps (see the module doc)."""
    changed = max(st.st_mtime_ns, st.st_ctime_ns)
    coarse = st.st_mtime_ns % 1_000_000_000 == 0 and st.st_ctime_ns % 1_000_000_000 == 0
    return now_ns - changed > (RACY_NS_COARSE if coarse else RACY_NS_FINE)


def walk_files(
    root: Path, skipped: list[str] | None = None
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """The one walk of a data folder: (relative POSIX path, entry) of each file of its data.

    Every upload, reference, hash check and table read goes through it, so a folder's data is
    the same everywhere. Left out, and noted in ``skipped`` as ``"path (why)"``:

    - hidden files and folders (a name starting with '.'), as the server refuses to serve
      them when named directly (and they are tool state: .git, .ipynb_checkpoints, .DS_Store);
    - symlinks to files outside ``root`` or to hidden files in it: the data would leave the
      folder the user chose (the server root, a datastore);
    - symlinked folders (never followed: loops, and what they hold is elsewhere anyway),
      broken symlinks, and anything not a regular file (a FIFO would block the reader).
    """
    notes = skipped if skipped is not None else []
    real_root = os.path.realpath(root)
    inside = real_root.rstrip("/") + "/"
    stack = [(root, "")]
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as it:
            for entry in sorted(it, key=lambda e: e.name):
                path = f"{rel}{entry.name}"
                if entry.name.startswith("."):
                    folder_mark = "/" if entry.is_dir(follow_symlinks=False) else ""
                    notes.append(f"{path}{folder_mark} (hidden)")
                elif entry.is_symlink():
                    why = _symlink_problem(entry, inside)
                    if why:
                        notes.append(f"{path} ({why})")
                    else:
                        yield path, entry
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), path + "/"))
                elif entry.is_file(follow_symlinks=False):
                    yield path, entry
                else:
                    notes.append(f"{path} (not a regular file)")


def _symlink_problem(entry: os.DirEntry[str], inside: str) -> str | None:
    """Why a symlink inside a data folder is left out, or None to keep it (a file in it)."""
    if entry.is_dir():
        return "symlinked folder, not followed"
    if not entry.is_file():
        return "broken symlink"
    target = os.path.realpath(entry.path)
    if not target.startswith(inside):
        return "symlink to a file outside the folder"
    if any(part.startswith(".") for part in target[len(inside) :].split("/")):
        return "symlink to a hidden file"
    return None


def hash_entry(entry: os.DirEntry[str]) -> str:
    """hash_file for a walked entry; a plain file is opened without following a symlink, so one
    swapped in after the walk cannot make it read what the walk left out."""
    flags = os.O_RDONLY | (0 if entry.is_symlink() else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(entry.path, flags)
    with open(fd, "rb", buffering=0) as f:
        return hash_stream(f, os.fstat(f.fileno()).st_size)


def scan_local(path: Path, cache: HashCache | None = None) -> Scan:
    """Hash a local file or folder, reading only files the cache does not vouch for."""
    path = path.resolve()
    if path.is_file():
        st = path.stat()
        key = f"file:{path}"
        stamp = _stamp(st)
        cached = cache.get(key) if cache else None
        rehashed = 0
        if cached and cached[0] == stamp:
            digest = cached[1]
        else:
            now = time.time_ns()
            digest = hash_file(path)
            rehashed = 1
            if cache and _settled(st, now):
                cache.put_many([(key, stamp, digest)])
        entry = Entry(path.name, st.st_size, digest)
        return Scan([entry], False, digest, st.st_size, rehashed, st.st_size if rehashed else 0)

    prefix = f"file:{path}/"
    known = cache.under(prefix) if cache else {}
    entries: list[Entry] = []
    fresh: list[tuple[str, str, str]] = []
    rehashed = rehashed_bytes = 0
    skipped: list[str] = []
    for rel, dirent in walk_files(path, skipped):
        st = dirent.stat()
        key = prefix + rel
        stamp = _stamp(st)
        cached = known.get(key)
        if cached and cached[0] == stamp:
            digest = cached[1]
        else:
            now = time.time_ns()
            digest = hash_entry(dirent)
            rehashed += 1
            rehashed_bytes += st.st_size
            if _settled(st, now):
                fresh.append((key, stamp, digest))
        entries.append(Entry(rel, st.st_size, digest))
    if cache:
        cache.put_many(fresh)
    entries.sort(key=lambda e: e.path.encode())
    return Scan(
        entries,
        True,
        tree_hash(entries),
        sum(e.size for e in entries),
        rehashed,
        rehashed_bytes,
        skipped,
    )


def check_entries(root: Path, entries: list[Entry], cache: HashCache | None = None) -> str | None:
    """None when each of ``entries`` is under ``root`` (not through a symlink leading out) with
    its recorded size and hash; else the first difference, e.g. ``"b.csv changed"``."""
    root = root.resolve()
    inside = str(root).rstrip("/") + "/"
    prefix = f"file:{root}/"  # scan_local's cache keys: what it hashed is not read again
    known = cache.under(prefix) if cache else {}
    for e in entries:
        real = os.path.realpath(os.path.join(root, e.path))
        if not real.startswith(inside):
            return f"{e.path} leads outside the folder"
        try:
            st = os.stat(real)
        except OSError:
            return f"{e.path} is gone"
        if not stat.S_ISREG(st.st_mode):
            return f"{e.path} is not a regular file"
        if st.st_size != e.size:
            return f"{e.path} changed (size {st.st_size}, was {e.size})"
        cached = known.get(prefix + e.path)
        digest = cached[1] if cached and cached[0] == _stamp(st) else hash_file(real)
        if digest != e.hash:
            return f"{e.path} changed"
    return None


def remote_stamp(info: dict[str, Any]) -> str:
    """What tells a remote object changed: its size and ETag (or modification time)."""
    tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("generation")
    if not tag:
        for key in ("LastModified", "last_modified", "mtime", "updated", "created"):
            if info.get(key):
                tag = info[key]
                break
    return f"{info.get('size')}:{tag}"


def scan_remote(
    fs: Any, full: str, cache_prefix: str, cache: HashCache | None = None, threads: int = 8
) -> Scan:
    """Hash a file or folder on a (remote) fsspec filesystem, streaming each object."""
    from concurrent.futures import ThreadPoolExecutor

    info = fs.info(full)
    is_dir = info.get("type") == "directory"
    skipped: list[str] = []
    if is_dir:
        found = fs.find(full, detail=True)
        base = full.rstrip("/") + "/"
        listed = [
            (p[len(base) :] if p.startswith(base) else p.rsplit("/", 1)[-1], p, i)
            for p, i in found.items()
            if i.get("type") != "directory"
        ]
        # The local walk's rule for hidden names, so a folder's data is the same wherever it is.
        hidden = {item[0] for item in listed if _hidden_part(item[0])}
        items = [item for item in listed if item[0] not in hidden]
        skipped.extend(sorted({f"{_hidden_part(rel)} (hidden)" for rel in hidden}))
    else:
        items = [(full.rstrip("/").rsplit("/", 1)[-1], full, info)]
    known = cache.under(cache_prefix) if cache else {}

    def one(item: tuple[str, str, dict[str, Any]]) -> tuple[Entry, tuple[str, str, str] | None]:
        rel, path, meta = item
        key = cache_prefix + path
        stamp = remote_stamp(meta)
        cached = known.get(key)
        if cached and cached[0] == stamp and "None" not in stamp:
            return Entry(rel, int(meta.get("size") or 0), cached[1]), None
        with fs.open(path, "rb", block_size=CHUNK) as f:
            digest = hash_stream(f, meta.get("size"))
        return Entry(rel, int(meta.get("size") or 0), digest), (key, stamp, digest)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(one, items))
    entries = [r[0] for r in results]
    fresh = [r[1] for r in results if r[1] is not None]
    if cache:
        cache.put_many(fresh)
    entries.sort(key=lambda e: e.path.encode())
    size = sum(e.size for e in entries)
    digest = tree_hash(entries) if is_dir else entries[0].hash
    return Scan(
        entries,
        is_dir,
        digest,
        size,
        len(fresh),
        sum(int(i[2].get("size") or 0) for i, r in zip(items, results, strict=True) if r[1]),
        skipped,
    )


def _hidden_part(rel: str) -> str | None:
    """The first hidden part of ``rel`` with what leads to it (``a/.b/``), or None."""
    parts = rel.split("/")
    for i, part in enumerate(parts):
        if part.startswith("."):
            return "/".join(parts[: i + 1]) + ("/" if i < len(parts) - 1 else "")
    return None
