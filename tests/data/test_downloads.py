"""fetch() against a local HTTP server on 127.0.0.1: checksums, partial transfers, nothing left behind."""
from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest

from brainalign.data.downloads import REGISTRY, Source, fetch
from brainalign.errors import DownloadError, MissingDatasetError, ValidationError

PAYLOAD = bytes(range(256)) * 64


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        if self.path == "/cut":  # announces the whole payload, sends a third, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "weights.bin").write_bytes(PAYLOAD)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def source(url: str, **checks) -> Source:
    return Source(name="test", filename="weights.bin", url=url, page="local", description="test file", **checks)


def test_fetch_verifies_full_and_prefix_checksums_and_reuses_the_cache(server, tmp_path) -> None:
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    cache = tmp_path / "cache"
    path = fetch(source(f"{server}/weights.bin", sha256=digest), cache)
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in cache.iterdir()] == ["weights.bin"]
    assert fetch(source("http://127.0.0.1:9/unreachable", sha256=digest), cache) == path  # cached, no network
    other = tmp_path / "other"
    assert fetch(source(f"{server}/weights.bin", sha256_prefix=digest[:8]), other).read_bytes() == PAYLOAD


@pytest.mark.parametrize("checks", [{"sha256": "0" * 64}, {"sha256_prefix": "deadbeef"}])
def test_checksum_mismatch_leaves_nothing(server, tmp_path, checks) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(source(f"{server}/weights.bin", **checks), cache)
    assert not cache.exists()  # not even the new cache folder is left behind


def test_partial_download_and_missing_file_leave_nothing(server, tmp_path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="cut off after 5461 of 16384 bytes"):
        fetch(source(f"{server}/cut"), cache)
    with pytest.raises(DownloadError, match="failed"):
        fetch(source(f"{server}/absent.bin"), cache)
    assert not cache.exists()  # not even the new cache folder is left behind


def test_cached_file_with_wrong_checksum_is_reported(tmp_path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"corrupt")
    with pytest.raises(DownloadError, match="delete it and fetch again"):
        fetch(source("http://127.0.0.1:9/x", sha256_prefix="1d3f7974"), tmp_path)


def test_registry_entries_and_manual_sources(tmp_path) -> None:
    assert REGISTRY["cornet_s"].sha256_prefix == "1d3f7974" and REGISTRY["cornet_s"].url.endswith(".pth")
    for entry in REGISTRY.values():
        assert entry.page.startswith("https://") and entry.checksum_note
        assert entry.url is None or entry.url.startswith("https://")
    with pytest.raises(MissingDatasetError, match="osf.io/3jk45"):
        fetch("things_eeg2_preprocessed", tmp_path)
    with pytest.raises(ValidationError, match="known sources"):
        fetch("imagenet", tmp_path)
