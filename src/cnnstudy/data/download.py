"""Fetch remote files by URL with checksum verification, and extract archives safely.

Every remote file of the study goes through :func:`fetch`: a partial download never lands
under its final name (it is written to ``<dest>.part`` and renamed atomically once its
checksum matches), a file already in place with the right checksum is not fetched again,
and any failure names the file, the expected checksum and where a pre-downloaded copy goes.
Nothing hangs: a download has one wall-clock deadline over all its attempts, from name
lookup to the last byte, headers included, and a minimum rate (a server trickling a byte a
second never trips a per-read timeout), a body shorter than its Content-Length is
retried from where it stopped, and a full disk is said to be one, with the space needed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from cnnstudy.hashing import CHUNK, file_digest

__all__ = ["extract", "fetch", "file_digest", "verify_download"]
# sha256_prefix: torchvision's published weights carry only the first hex digits of their
# sha256 in the file name (resnet18-f37072fd.pth); torch.hub verifies exactly that.
ALGORITHMS = ("sha256", "md5", "sha256_prefix")


class DownloadError(RuntimeError):
    """A file could not be fetched or failed verification."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would land outside the extraction folder, or it expands too far."""


class DiskFull(DownloadError):
    """No space left where a file is written: not retried, the partial file kept."""


class PastDeadline(DownloadError):
    """The download's one deadline, over all its attempts, has passed: not retried."""


def _past_deadline(part: Path, limits: Limits) -> PastDeadline:
    done = part.stat().st_size if part.exists() else 0
    return PastDeadline(
        f"{part}: not done by its deadline ({limits.deadline:.0f} s in all, config key download_deadline_minutes) "
        f"after {done / 1e6:,.1f} MB; the partial file is kept and resumes when the pipeline is rerun"
    )


@contextlib.contextmanager
def _wall_clock(deadline_at: float, part: Path, limits: Limits):
    """Interrupt whatever blocks once ``deadline_at`` (time.monotonic) passes: name lookup,
    connect, a status line or header trickled a byte a second, a read (SIGALRM: a per-read
    timeout never fires while bytes keep coming). Signals reach the main thread only; in
    another thread the per-block checks remain."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise _past_deadline(part, limits)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(deadline_at - time.monotonic(), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class TooSlow(OSError):
    """The server sends slower than the minimum rate: retried (resuming), like a dropped link."""


class ShortBody(OSError):
    """The connection closed before Content-Length bytes arrived: retried, resuming."""


@dataclass(frozen=True)
class Limits:
    """How a download may go: per read (``timeout``), in all (``deadline``, seconds over every
    attempt), the slowest average rate accepted over any ``window`` seconds, the attempts."""

    timeout: float = 60.0
    deadline: float = 12 * 3600
    min_rate: float = 20_000  # bytes per second
    window: float = 60.0
    retries: int = 3
    backoff: float = 2.0
    progress_every: float = 10.0  # seconds between progress lines


def disk_full(path: Path, needed: int | None, exc: OSError | None = None, then: str = "a partial download resumes"):
    """The error for no space left where ``path`` is written: the space needed and free."""
    free = shutil.disk_usage(path.parent).free if path.parent.exists() else 0
    need = f"{needed / 1e6:,.1f} MB more needed, " if needed else ""
    return DiskFull(
        f"the disk holding {path} is full{' (' + exc.strerror + ')' if exc else ''}: {need}{free / 1e6:,.1f} MB "
        f"free. Free space (or point results/ elsewhere) and rerun; {then}"
    )


def parse_checksum(spec: dict) -> tuple[str, str]:
    """(algorithm, hex digest) of a config entry's ``checksum: "<algorithm>:<hex>"``: one key,
    so a config laid over another (the demo over the study) replaces it whole."""
    algorithm, _, digest = str(spec.get("checksum", "")).partition(":")
    if algorithm not in ALGORITHMS or not digest:
        raise ValueError(
            f"download entry {spec.get('url', '?')!r}: checksum {spec.get('checksum')!r} is not "
            f"'<algorithm>:<hex digest>' with an algorithm of {ALGORITHMS}"
        )
    return algorithm, digest.lower()


def url_to_local_path(url: str) -> Path | None:
    """Local path of a ``file:`` URL (absolute ``file:///x`` or relative ``file:x``), else None."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None
    path = urllib.parse.unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        path = parsed.netloc + path  # file:relative/x parses the first part as netloc
    return Path(path)


def _hint(dest: Path, cache_dir: str | None) -> str:
    where = f"{dest}" + (f" or {Path(cache_dir) / dest.name}" if cache_dir else "")
    return (
        f"If this machine has no network, download the file elsewhere and put it at {where}; "
        "it is used as soon as its checksum matches."
    )


def _digest(path: Path, algorithm: str, expected: str) -> str:
    """The file's digest in the form ``expected`` is written in (a prefix for sha256_prefix)."""
    if algorithm == "sha256_prefix":
        return file_digest(path, "sha256")[: len(expected)]
    return file_digest(path, algorithm)


def _verify(path: Path, algorithm: str, expected: str) -> str:
    actual = _digest(path, algorithm, expected)
    return actual if actual == expected else ""


def _copy_from(src: Path, part: Path) -> None:
    if not src.is_file():
        raise FileNotFoundError(f"no such file: {src}")
    shutil.copyfile(src, part)


@dataclass
class Transfer:
    """One attempt's bytes into ``part``: how many, of how many, since when, by the clock."""

    part: Path
    done: int
    total: int | None
    limits: Limits
    deadline_at: float  # time.monotonic() by which the whole download must be done
    log: object = print

    def check(self, window: deque, now: float) -> None:
        """Raise if past the deadline, or slower than the minimum rate over the last window."""
        if now > self.deadline_at:
            raise _past_deadline(self.part, self.limits)
        while len(window) > 1 and now - window[1][0] >= self.limits.window:
            window.popleft()
        since, then = window[0]
        if now - since >= self.limits.window and (self.done - then) / (now - since) < self.limits.min_rate:
            rate = (self.done - then) / (now - since)
            raise TooSlow(
                f"{rate:,.0f} bytes/s over the last {now - since:.0f} s, below the minimum {self.limits.min_rate:,.0f} "
                "(config key download_min_kb_per_second)"
            )

    def progress(self, start: float, now: float, first: int) -> str:
        rate = (self.done - first) / max(now - start, 1e-9)
        eta = f", ETA {(self.total - self.done) / rate:.0f} s" if self.total and rate > 0 else ""
        of = f" of {self.total / 1e6:,.1f}" if self.total else ""
        return f"{self.part.name}: {self.done / 1e6:,.1f}{of} MB at {rate / 1e6:.2f} MB/s{eta}"


def _write_all(src, out, t: Transfer) -> None:
    """Copy ``src`` (reading whatever has arrived) into ``out``, checking limits as it goes and
    logging progress by time; a short body raises ShortBody."""
    start = last = time.monotonic()
    first, window = t.done, deque([(start, t.done)])
    while block := (src.read1(CHUNK) if hasattr(src, "read1") else src.read(CHUNK)):
        try:
            out.write(block)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise disk_full(t.part, t.total and t.total - t.done, exc) from exc
            raise
        t.done += len(block)
        now = time.monotonic()
        window.append((now, t.done))
        t.check(window, now)
        if now - last >= t.limits.progress_every:
            last = now
            t.log(t.progress(start, now, first))
    if t.total is not None and t.done < t.total:
        raise ShortBody(f"the connection closed after {t.done:,} of {t.total:,} bytes (Content-Length)")


def _http_fetch(url: str, part: Path, limits: Limits, deadline_at: float, log=print) -> None:
    """Stream ``url`` into ``part``, resuming with a Range request when a partial file exists.

    A partial file that cannot be resumed (the server answers 416, or its range does not
    start where the file ends) is discarded and the download restarts from zero.
    """
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "cnnstudy"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=limits.timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not offset:
            raise
        log(f"{part}: the server cannot resume at byte {offset} (HTTP 416); restarting from zero")
        part.unlink()
        return _http_fetch(url, part, limits, deadline_at, log)
    with resp:
        status = getattr(resp, "status", 200)
        resumes = offset and status == 206 and (resp.headers.get("Content-Range") or "").startswith(f"bytes {offset}-")
        if offset and not resumes:
            log(f"{part}: the server sent the whole file (HTTP {status}); restarting from zero")
        done = offset if resumes else 0
        t = Transfer(part, done, _content_length(resp, done), limits, deadline_at, log)
        if t.total and shutil.disk_usage(part.parent).free < t.total - done:
            raise disk_full(part, t.total - done)
        log(f"{url}: {'resuming at byte ' + str(done) if done else 'starting'}, {t.total or 'unknown'} bytes in all")
        with open(part, "ab" if resumes else "wb") as out:
            _write_all(resp, out, t)


def _content_length(resp, offset: int) -> int | None:
    length = resp.headers.get("Content-Length")
    return int(length) + offset if length and length.isdigit() else None


def _already_there(dest: Path, cache_dir: str | None, algorithm: str, expected: str, log) -> bool:
    """A copy at ``dest``, or a pre-staged one in ``cache_dir`` (copied to ``dest``), that matches."""
    if dest.exists() and _verify(dest, algorithm, expected):
        log(f"{dest}: present, {algorithm} matches; not fetched again")
        return True
    staged = Path(cache_dir) / dest.name if cache_dir else None
    if staged is None or not staged.is_file():
        return False
    if not _verify(staged, algorithm, expected):
        log(f"{staged}: pre-staged copy has the wrong {algorithm}; ignoring it")
        return False
    log(f"{dest}: using pre-staged copy {staged}")
    part = dest.with_name(dest.name + ".part")
    shutil.copyfile(staged, part)
    os.replace(part, dest)
    return True


def fetch(
    url: str,
    dest: str | os.PathLike,
    checksum: dict | tuple[str, str],
    *,
    limits: Limits = Limits(),
    cache_dir: str | None = None,
    log=print,
) -> Path:
    """Download ``url`` to ``dest`` and verify it; return ``dest``.

    ``checksum`` is a config entry (``{"checksum": "sha256:..."}``) or a pair
    ``(algorithm, digest)``. A copy already at ``dest`` or in ``cache_dir`` with the right
    checksum is used as it is (pre-staged data on clusters without internet). Dropped or
    too-slow connections and short bodies are retried ``limits.retries`` times, resuming.
    """
    algorithm, expected = parse_checksum(checksum) if isinstance(checksum, dict) else checksum
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if _already_there(dest, cache_dir, algorithm, expected, log):
        write_verified_stamp(dest, algorithm, expected)
        return dest
    part = dest.with_name(dest.name + ".part")
    local = url_to_local_path(url)
    # One deadline for the whole download: every attempt and the waits between them.
    errors, deadline_at = [], time.monotonic() + limits.deadline
    for attempt in range(1, limits.retries + 1):
        try:
            with _wall_clock(deadline_at, part, limits):
                if local is not None:
                    _copy_from(local, part)
                else:
                    _http_fetch(url, part, limits, deadline_at, log)
        except (OSError, urllib.error.URLError) as exc:
            if getattr(exc, "errno", None) == errno.ENOSPC:
                raise disk_full(part, None, exc) from exc
            errors.append(f"attempt {attempt}: {exc}")
            log(f"{url}: attempt {attempt} of {limits.retries}: {exc}")
            wait = limits.backoff * attempt
            if attempt < limits.retries and time.monotonic() + wait >= deadline_at:
                raise _past_deadline(part, limits) from exc
            if attempt < limits.retries:
                time.sleep(wait)
            continue
        actual = _digest(part, algorithm, expected)
        if actual == expected:
            os.replace(part, dest)  # atomic: dest is either absent or complete
            write_verified_stamp(dest, algorithm, expected)
            log(f"{dest}: fetched from {url}, {algorithm} {actual}")
            return dest
        part.unlink()  # a wrong checksum is not resumable: restart from zero
        raise DownloadError(
            f"checksum mismatch for {dest.name} from {url}: expected {algorithm} "
            f"{expected}, got {actual}. The file is corrupt or the config's checksum is "
            f"wrong; fix downloads.<name>.{algorithm} in the config or replace the file. " + _hint(dest, cache_dir)
        )
    raise DownloadError(
        f"could not fetch {dest.name} from {url} after {limits.retries} attempts "
        f"({'; '.join(errors)}); expected {algorithm} {expected}. " + _hint(dest, cache_dir)
    )


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, algorithm: str, expected: str) -> dict:
    st = path.stat()
    return {"algorithm": algorithm, "digest": expected, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_verified_stamp(path: str | os.PathLike, algorithm: str, expected: str) -> None:
    """Remember that ``path`` matched its checksum, keyed on its size and mtime."""
    path = Path(path)
    _stamp_path(path).write_text(json.dumps(_stamp(path, algorithm, expected)))


def verify_download(path: str | os.PathLike, checksum: dict, log=print) -> Path:
    """Check a downloaded file against its config checksum before anything reads it.

    A stamp written when the file last matched (same size and mtime) spares rehashing a
    multi-GB archive; any other file is hashed. A mismatch names the file and the fix.
    """
    path = Path(path)
    algorithm, expected = parse_checksum(checksum)
    if not path.is_file():
        raise DownloadError(f"{path} is missing; rerun the pipeline and its download rule fetches it")
    stamp = _stamp_path(path)
    try:
        if json.loads(stamp.read_text()) == _stamp(path, algorithm, expected):
            return path
    except (OSError, ValueError):
        pass
    actual = _digest(path, algorithm, expected)
    if actual != expected:
        raise DownloadError(
            f"{path} does not match its {algorithm} (expected {expected}, got {actual}): it changed or was "
            "replaced after its download. Delete it and rerun; the download rule fetches it again."
        )
    write_verified_stamp(path, algorithm, expected)
    log(f"{path}: {algorithm} verified")
    return path


def _check_member(root: Path, name: str, is_link: bool, link_target: str | None) -> Path:
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    target = (root / name).resolve()
    if root != target and root not in target.parents:
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside {root}")
    if is_link:
        # Links are refused outright: a link pointing out could be followed by a later member.
        raise UnsafeArchiveError(f"archive member {name!r} is a link (to {link_target!r})")
    return target


def extract(archive: str | os.PathLike, dest: str | os.PathLike, limit_gb: float = float("inf")) -> Path:
    """Extract a zip or tar(.gz) archive into ``dest`` after checking every member.

    Refuses absolute paths, ``..`` escapes, links, and members that add up to more than
    ``limit_gb`` (an archive that expands a thousandfold) before anything is written; reads a
    compressed tar to its end (so gzip's CRC is checked; zip members are checked by their
    own CRC), and extracts into a temporary folder renamed into place, so ``dest`` is never
    half-filled. A corrupt archive fails naming its path; a full disk is said to be one.
    """
    archive, dest = Path(archive), Path(dest)
    root_tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(root_tmp, ignore_errors=True)
    root_tmp.mkdir(parents=True)
    root = root_tmp.resolve()
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, root, limit_gb)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, root, limit_gb)
        else:
            raise UnsafeArchiveError(f"{archive} is neither a zip nor a tar archive")
    except DiskFull:
        shutil.rmtree(root_tmp, ignore_errors=True)
        raise
    except (OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile) as exc:
        shutil.rmtree(root_tmp, ignore_errors=True)
        raise DownloadError(
            f"{archive} is corrupt ({type(exc).__name__}: {exc}); delete it and rerun to fetch it again"
        ) from exc
    except BaseException:
        shutil.rmtree(root_tmp, ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(root_tmp, dest)
    return dest


def _check_expansion(archive: Path, total: int, limit_gb: float) -> None:
    if total > limit_gb * 1e9:
        raise UnsafeArchiveError(
            f"{archive} would expand to {total / 1e9:,.1f} GB, past the limit of {limit_gb:g} GB (config key "
            "extract_limit_gb; the study's largest archive, COCO train2014, is 13.5 GB): refused before anything "
            "was written. Delete it and rerun, or raise the limit if the file is right"
        )


def _unpack(extractall, root: Path, total: int) -> None:
    """Run ``extractall``; a full disk is said to be one, with the space the archive needs."""
    try:
        extractall()
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full(root, total, exc, then="the extraction starts over") from exc
        raise


def _extract_zip(archive: Path, root: Path, limit_gb: float) -> None:
    """Extract; the members' declared sizes (zipfile reads no more than those) bound the expansion."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            mode = (info.external_attr >> 16) & 0o170000
            _check_member(root, info.filename, mode == 0o120000, None)
        total = sum(i.file_size for i in infos)
        _check_expansion(archive, total, limit_gb)
        _unpack(lambda: zf.extractall(root), root, total)


def _extract_tar(archive: Path, root: Path, limit_gb: float) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            _check_member(root, m.name, m.issym() or m.islnk(), m.linkname)
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(f"archive member {m.name!r} is not a file or folder")
        total = sum(m.size for m in members)
        _check_expansion(archive, total, limit_gb)
        _unpack(lambda: tf.extractall(root, members=members, filter="data"), root, total)
        while tf.fileobj.read(CHUNK):  # to the end of the stream: gzip checks its CRC there
            pass
