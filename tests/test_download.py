import errno
import functools
import hashlib
import http.server
import io
import os
import re
import shutil
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from cnnstudy.data.download import (
    DownloadError,
    Limits,
    UnsafeArchiveError,
    extract,
    fetch,
    file_digest,
    url_to_local_path,
    verify_download,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def source(tmp_path):
    data = bytes(range(256)) * 4000
    p = tmp_path / "src" / "archive.bin"
    p.parent.mkdir()
    p.write_bytes(data)
    return p, data


def test_file_url_fetch_verifies_and_lands_atomically(tmp_path, source):
    src, data = source
    dest = fetch(
        src.as_uri(), tmp_path / "out" / "archive.bin", {"checksum": f"sha256:{sha(data)}"}, log=lambda m: None
    )
    assert dest.read_bytes() == data
    assert not (tmp_path / "out" / "archive.bin.part").exists()


def test_md5_checksums_are_supported(tmp_path, source):
    src, data = source
    dest = fetch(
        src.as_uri(), tmp_path / "a.bin", {"checksum": f"md5:{hashlib.md5(data).hexdigest()}"}, log=lambda m: None
    )
    assert file_digest(dest, "md5") == hashlib.md5(data).hexdigest()


def test_relative_file_url(tmp_path, source, monkeypatch):
    src, data = source
    monkeypatch.chdir(tmp_path)
    assert url_to_local_path("file:src/archive.bin") == src.relative_to(tmp_path)
    dest = fetch("file:src/archive.bin", tmp_path / "b.bin", {"checksum": f"sha256:{sha(data)}"}, log=lambda m: None)
    assert dest.read_bytes() == data


def test_present_file_with_right_checksum_is_not_fetched_again(tmp_path, source):
    src, data = source
    dest = tmp_path / "c.bin"
    dest.write_bytes(data)
    messages = []
    # the URL is unreachable: succeeding proves nothing was fetched
    fetch("http://127.0.0.1:9/nothing", dest, {"checksum": f"sha256:{sha(data)}"}, limits=Limits(retries=1),
          log=messages.append)  # fmt: skip
    assert "not fetched again" in messages[0]


def test_prestaged_cache_copy_is_used(tmp_path, source):
    src, data = source
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "d.bin").write_bytes(data)
    dest = fetch(
        "http://127.0.0.1:9/d.bin",
        tmp_path / "out" / "d.bin",
        {"checksum": f"sha256:{sha(data)}"},
        cache_dir=str(cache),
        limits=Limits(retries=1),
        log=lambda m: None,
    )
    assert dest.read_bytes() == data


def test_wrong_checksum_names_file_expected_hash_and_where_to_put_a_copy(tmp_path, source):
    src, data = source
    wrong = "0" * 64
    with pytest.raises(DownloadError) as err:
        fetch(src.as_uri(), tmp_path / "e.bin", {"checksum": f"sha256:{wrong}"}, log=lambda m: None)
    msg = str(err.value)
    assert "e.bin" in msg and wrong in msg and sha(data) in msg and str(tmp_path / "e.bin") in msg
    assert not (tmp_path / "e.bin").exists() and not (tmp_path / "e.bin.part").exists()


def test_no_network_fails_after_retries_with_hint(tmp_path):
    with pytest.raises(DownloadError) as err:
        fetch(
            "http://127.0.0.1:9/f.bin",
            tmp_path / "f.bin",
            {"checksum": "sha256:" + "1" * 64},
            limits=Limits(retries=2, backoff=0, timeout=2),
            log=lambda m: None,
        )
    msg = str(err.value)
    assert "after 2 attempts" in msg and "1" * 64 in msg and "put it at" in msg


@pytest.mark.parametrize("entry", [{"url": "x"}, {"url": "x", "checksum": "crc32:abcd"}, {"checksum": "sha256:"}])
def test_checksum_entry_is_one_algorithm_and_digest(tmp_path, source, entry):
    src, data = source
    with pytest.raises(ValueError, match="is not '<algorithm>:<hex digest>'"):
        fetch(src.as_uri(), tmp_path / "g.bin", entry, log=lambda m: None)


@pytest.fixture
def http_server(tmp_path):
    yield from serve(tmp_path, http.server.SimpleHTTPRequestHandler)


def serve(tmp_path, handler):
    """A local HTTP server of ``handler`` on 127.0.0.1 serving ``tmp_path/www``: (root, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True  # a handler still trickling bytes does not hold the shutdown
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_fetch_and_stale_partial_file_restart(tmp_path, http_server):
    root, base = http_server
    data = b"payload-" * 10000
    (root / "h.bin").write_bytes(data)
    dest = tmp_path / "h.bin"
    # a leftover partial download with garbage: the server ignores Range, so it restarts
    (tmp_path / "h.bin.part").write_bytes(b"garbage")
    fetch(f"{base}/h.bin", dest, {"checksum": f"sha256:{sha(data)}"}, log=lambda m: None)
    assert dest.read_bytes() == data


def _tar_with(tmp_path, name, *, link=None):
    p = tmp_path / "bad.tar.gz"
    with tarfile.open(p, "w:gz") as tf:
        info = tarfile.TarInfo(name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tf.addfile(info)
        else:
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
    return p


@pytest.mark.parametrize(
    "name,link,why",
    [
        ("../escape.txt", None, "outside"),
        ("/abs.txt", None, "absolute"),
        ("ok/link", "/etc/passwd", "link"),
        ("a/../../x", None, "outside"),
    ],
)
def test_unsafe_tar_members_are_refused_before_writing(tmp_path, name, link, why):
    archive = _tar_with(tmp_path, name, link=link)
    with pytest.raises(UnsafeArchiveError, match=why):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()


def test_unsafe_zip_member_is_refused(tmp_path):
    p = tmp_path / "bad.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(p, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_safe_archive_extracts_and_replaces_previous_content(tmp_path):
    p = tmp_path / "good.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("d/a.txt", "A")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    extract(p, out)
    assert (out / "d" / "a.txt").read_text() == "A" and not (out / "stale.txt").exists()


def test_sha256_prefix_like_torchvision_weight_names(tmp_path, source):
    src, data = source
    fetch(src.as_uri(), tmp_path / "w.pth", {"checksum": f"sha256_prefix:{sha(data)[:8]}"}, log=lambda m: None)
    with pytest.raises(DownloadError, match="expected sha256_prefix 00000000"):
        fetch(src.as_uri(), tmp_path / "v.pth", {"checksum": "sha256_prefix:00000000"}, log=lambda m: None)


def _tar_gz(tmp_path, payload: bytes) -> "Path":
    p = tmp_path / "data.tar.gz"
    with tarfile.open(p, "w:gz") as tf:
        info = tarfile.TarInfo("d/blob.bin")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    return p


def test_bit_flipped_tar_gz_is_refused_not_extracted_with_a_corrupt_member(tmp_path):
    import random

    payload = random.Random(0).randbytes(200_000)  # incompressible: a flip lands in the data
    archive = _tar_gz(tmp_path, payload)
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    archive.write_bytes(bytes(raw))
    with pytest.raises(DownloadError, match=f"{archive} is corrupt.*delete it and rerun"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extraction_input_is_reverified_with_a_stamp_keyed_on_size_and_mtime(tmp_path, source):

    src, data = source
    entry = {"checksum": f"sha256:{sha(data)}"}
    dest = fetch(src.as_uri(), tmp_path / "d" / "archive.bin", entry, log=lambda m: None)
    logs = []
    verify_download(dest, entry, logs.append)
    assert not logs  # the stamp written at download spares the rehash
    raw = bytearray(dest.read_bytes())
    raw[10] ^= 0xFF
    stat = dest.stat()
    dest.write_bytes(bytes(raw))
    os.utime(dest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # replaced later, by hand or by a bad copy
    with pytest.raises(DownloadError, match=f"{dest} does not match its sha256.*Delete it and rerun"):
        verify_download(dest, entry, logs.append)
    with pytest.raises(DownloadError, match="is missing"):
        verify_download(tmp_path / "nothing.bin", entry)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves Range requests like a real file server: 206 with Content-Range, 416 past the end."""

    def do_GET(self):
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else None
        if start is not None and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        body = data[start or 0 :]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def range_server(tmp_path):
    yield from serve(tmp_path, RangeHandler)


def test_partial_download_resumes_and_an_unresumable_part_restarts_from_zero(tmp_path, range_server):
    root, base = range_server
    data = bytes(range(256)) * 400
    (root / "f.bin").write_bytes(data)
    dest = tmp_path / "f.bin"
    part = tmp_path / "f.bin.part"
    part.write_bytes(data[:1000])  # an interrupted download: resumed with a Range request
    fetch(f"{base}/f.bin", dest, {"checksum": f"sha256:{sha(data)}"}, log=lambda m: None)
    assert dest.read_bytes() == data
    dest.unlink()
    part.write_bytes(data + b"junk")  # larger than the file: the server answers 416
    logs = []
    fetch(f"{base}/f.bin", dest, {"checksum": f"sha256:{sha(data)}"}, log=logs.append)
    assert dest.read_bytes() == data and any("416" in m and "restarting from zero" in m for m in logs)


class HostileHandler(RangeHandler):
    """/headers/<file>: a status line and headers trickled a byte a second; /slow/<file>: one byte
    of body every 0.1 s; /short/<file>: the first answer stops halfway through
    its declared Content-Length, later ones (Range requests) are honest."""

    cut = set()

    def do_GET(self):
        kind, _, name = self.path.lstrip("/").partition("/")
        data = (Path(self.directory) / name).read_bytes()
        if kind == "headers":  # the status line and headers, one byte a second, never a body
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nX-Pad: " + b"a" * 100_000:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.0)
        elif kind == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(0.1)
        elif kind == "short" and name not in self.cut:
            self.cut.add(name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
        else:
            self.path = "/" + name
            super().do_GET()


@pytest.fixture
def hostile_server(tmp_path):
    HostileHandler.cut = set()
    yield from serve(tmp_path, HostileHandler)


def test_a_trickling_server_is_dropped_for_its_rate_logging_progress_by_time(tmp_path, hostile_server):
    root, base = hostile_server
    data = b"x" * 10_000
    (root / "t.bin").write_bytes(data)
    logs = []
    tick = time.monotonic()
    limits = Limits(retries=2, backoff=0, window=0.5, min_rate=1000, progress_every=0.2)
    with pytest.raises(DownloadError, match="after 2 attempts .*below the minimum 1,000 .*download_min_kb_per_second"):
        fetch(f"{base}/slow/t.bin", tmp_path / "t.bin", {"checksum": f"sha256:{sha(data)}"}, limits=limits,
              log=logs.append)  # fmt: skip
    assert time.monotonic() - tick < 10
    assert any(re.search(r"t.bin.part: [\d.]+ of 0.0 MB at", m) for m in logs), logs  # progress by time
    assert (tmp_path / "t.bin.part").stat().st_size > 0  # kept: the next attempt resumes


def test_a_download_past_its_deadline_fails_saying_so(tmp_path, hostile_server):
    root, base = hostile_server
    (root / "d.bin").write_bytes(b"y" * 10_000)
    limits = Limits(retries=3, backoff=0, deadline=0.5, min_rate=0)
    with pytest.raises(DownloadError, match=r"not done by its deadline \(0 s in all.*download_deadline_minutes"):
        fetch(f"{base}/slow/d.bin", tmp_path / "d.bin", {"checksum": "sha256:" + "0" * 64}, limits=limits,
              log=lambda m: None)  # fmt: skip
    assert (tmp_path / "d.bin.part").exists()


def test_headers_trickled_a_byte_a_second_fail_within_the_deadline(tmp_path, hostile_server):
    """A per-read timeout never fires while bytes keep coming, and the rate checks see only the
    body: the deadline is wall time from connect to the last byte, over every attempt."""
    root, base = hostile_server
    (root / "h.bin").write_bytes(b"z")
    limits = Limits(retries=3, backoff=0.1, deadline=3, timeout=60)
    tick = time.monotonic()
    with pytest.raises(DownloadError, match=r"h.bin.part: not done by its deadline \(3 s in all"):
        fetch(f"{base}/headers/h.bin", tmp_path / "h.bin", {"checksum": "sha256:" + "0" * 64}, limits=limits,
              log=lambda m: None)  # fmt: skip
    assert time.monotonic() - tick < 3 + 2


def test_no_retry_starts_after_the_deadline(tmp_path):
    """A dead link fails fast, but the wait before the next attempt would pass the deadline."""
    limits = Limits(retries=5, backoff=10, deadline=1)
    tick = time.monotonic()
    with pytest.raises(DownloadError, match="not done by its deadline"):
        fetch("http://127.0.0.1:9/none.bin", tmp_path / "n.bin", {"checksum": "sha256:" + "0" * 64},
              limits=limits, log=lambda m: None)  # fmt: skip
    assert time.monotonic() - tick < 3


def test_a_body_shorter_than_its_content_length_is_retried_and_resumed_not_blamed_on_the_checksum(
    tmp_path, hostile_server
):
    root, base = hostile_server
    data = bytes(range(256)) * 100
    (root / "s.bin").write_bytes(data)
    logs = []
    fetch(f"{base}/short/s.bin", tmp_path / "s.bin", {"checksum": f"sha256:{sha(data)}"},
          limits=Limits(backoff=0), log=logs.append)  # fmt: skip
    assert (tmp_path / "s.bin").read_bytes() == data
    assert any(f"closed after {len(data) // 2:,} of {len(data):,} bytes (Content-Length)" in m for m in logs), logs
    assert any(f"resuming at byte {len(data) // 2}" in m for m in logs) and not any("mismatch" in m for m in logs)


def test_a_full_disk_is_named_with_the_space_needed_and_not_retried(tmp_path, range_server, monkeypatch):
    from cnnstudy.data import download

    root, base = range_server
    data = b"z" * 50_000
    (root / "f.bin").write_bytes(data)
    monkeypatch.setattr(download.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(
        download.DiskFull, match=r"the disk holding .*f.bin.part is full: 0.1 MB more needed, 0.0 MB free"
    ):
        fetch(f"{base}/f.bin", tmp_path / "f.bin", {"checksum": f"sha256:{sha(data)}"}, log=lambda m: None)
    monkeypatch.undo()

    class FullFile(io.BytesIO):
        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download, "open", lambda *a, **k: FullFile(), raising=False)
    calls = []
    with pytest.raises(download.DiskFull, match=r"is full \(No space left on device\): 0.1 MB more needed"):
        fetch(f"{base}/f.bin", tmp_path / "f.bin", {"checksum": f"sha256:{sha(data)}"}, log=calls.append)
    assert not any("attempt 2" in m for m in calls)  # a full disk is not retried


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_an_archive_expanding_past_the_limit_is_refused_before_anything_is_written(tmp_path, kind):
    zeros = b"\0" * 20_000_000  # compresses about a thousandfold
    archive = tmp_path / f"bomb.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("zeros.bin", zeros)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            info = tarfile.TarInfo("zeros.bin")
            info.size = len(zeros)
            tf.addfile(info, io.BytesIO(zeros))
    assert archive.stat().st_size < 100_000
    with pytest.raises(
        UnsafeArchiveError,
        match=r"bomb.* would expand to 0.0 GB, past the limit of 0.01 GB \(config key extract_limit_gb",
    ):
        extract(archive, tmp_path / "out", limit_gb=0.01)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.tmp").exists()
    assert (extract(archive, tmp_path / "ok", limit_gb=0.1) / "zeros.bin").stat().st_size == len(zeros)


def test_a_full_disk_during_extraction_is_not_called_a_corrupt_archive(tmp_path, monkeypatch):
    from cnnstudy.data import download

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "x" * 1000)

    def full(self, *args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", full)
    with pytest.raises(
        download.DiskFull,
        match=r"out.tmp is full \(No space left on device\): 0.0 MB more needed.*extraction starts over",
    ) as err:
        extract(archive, tmp_path / "out")
    assert "corrupt" not in str(err.value)
