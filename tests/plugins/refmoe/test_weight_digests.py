"""RefMoE's weight-file digests: hashed once per process, read again whenever the file changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from vleval_models.refmoe import adapter
from vleval_models.refmoe.adapter import RefMoE, file_sha256, weights_file
from vleval_models.refmoe.caption_adapter import RefMoECap


@pytest.fixture
def reads(monkeypatch):
    """Paths read through ``Path.read_bytes``, in order."""
    seen: list[Path] = []
    real = Path.read_bytes

    def counted(self):
        seen.append(self)
        return real(self)
    monkeypatch.setattr(Path, "read_bytes", counted)
    return seen


def test_digest_is_sha256_and_read_once(tmp_path, reads):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(b"weights" * 1000).hexdigest()
    assert file_sha256(path) == expected == file_sha256(path) == file_sha256(tmp_path / "." / "w.bin")
    assert reads == [path]


def test_a_changed_file_is_hashed_again(tmp_path, reads):
    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 64)
    first = file_sha256(path)
    stat = os.stat(path)
    path.write_bytes(b"b" * 64)  # same size and inode; the mtime one nanosecond later (a coarse clock)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert file_sha256(path) == hashlib.sha256(b"b" * 64).hexdigest() != first
    other = tmp_path / "new.bin"
    other.write_bytes(b"c" * 64)
    os.utime(other, ns=(stat.st_atime_ns, os.stat(path).st_mtime_ns))
    os.replace(other, path)  # same size and mtime, another inode
    assert file_sha256(path) == hashlib.sha256(b"c" * 64).hexdigest()
    assert len(reads) == 3


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "absent.bin")


def test_fingerprint_and_load_hash_each_weights_file_once(reads, monkeypatch):
    monkeypatch.setattr(adapter, "_DIGESTS", {})
    fingerprints = [RefMoE.fingerprint(experts=2), RefMoE.fingerprint(experts=2), RefMoECap.fingerprint(experts=2)]
    model = RefMoE(experts=2)
    path = weights_file(adapter.WEIGHTS_DIR, 2)
    assert model.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    assert reads.count(path) == 2  # the fingerprint's read, and this test's own
