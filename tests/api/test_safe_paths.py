"""Guarded paths: traversal and symlink escapes refused; a Hugging Face cache snapshot's links into blobs allowed."""

from __future__ import annotations

import pytest

from vleval.api import UnsafeInputError, safe_join


def test_traversal_and_absolute_paths_are_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    for bad in ("../secret.txt", "a/../../secret.txt"):
        with pytest.raises(UnsafeInputError, match="escapes the dataset root"):
            safe_join(root, bad)
    with pytest.raises(UnsafeInputError, match="absolute path"):
        safe_join(root, str(tmp_path / "secret.txt"))
    assert safe_join(root, "a/../b.png") == root.resolve() / "b.png"


def test_a_symlink_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    (root / "img.png").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UnsafeInputError, match="links to"):
        safe_join(root, "img.png")


def test_hf_cache_snapshot_links_into_blobs_are_allowed(tmp_path):
    repo = tmp_path / "hub" / "datasets--org--flickr30k"
    blobs = repo / "blobs"
    snapshot = repo / "snapshots" / "abc123"
    (snapshot / "images").mkdir(parents=True)
    blobs.mkdir()
    (blobs / "f00d").write_bytes(b"png")
    (snapshot / "images" / "1.png").symlink_to("../../../blobs/f00d")
    assert safe_join(snapshot, "images/1.png") == (blobs / "f00d").resolve()
    assert safe_join(snapshot / "images", "1.png") == (blobs / "f00d").resolve()
    (tmp_path / "secret.txt").write_text("x")
    (snapshot / "images" / "2.png").symlink_to(tmp_path / "secret.txt")  # leaves the repository: refused
    with pytest.raises(UnsafeInputError, match="links to"):
        safe_join(snapshot, "images/2.png")
