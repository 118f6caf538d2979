"""Missing, incomplete and corrupt checkpoints, and devices this machine lacks: one clear error naming path and file,
before anything is loaded."""

from __future__ import annotations

import shutil

import pytest
import torch
from fixtures.tiny_hf import build

from vleval_models.hf.loading import CheckpointError
from vleval_models.hf.model import HFModel


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build("qwen3_moe", tmp_path_factory.mktemp("hf") / "qwen3_moe")


def test_missing_directory_is_named(tmp_path):
    missing = tmp_path / "no" / "such" / "checkpoint"
    with pytest.raises(CheckpointError, match=f"checkpoint path '{missing}' is not an existing directory"):
        HFModel(path=str(missing))


def test_repo_id_not_in_the_cache_says_vleval_never_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(CheckpointError, match="neither an existing directory nor a repo id in the local Hugging Face"):
        HFModel(path="some-org/some-model")


def test_directory_without_config_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=f"{tmp_path} has no config.json"):
        HFModel(path=str(tmp_path))


def test_corrupt_safetensors_shard_is_named(checkpoint, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    shard = next(broken.glob("*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:40])  # truncated inside the header
    with pytest.raises(CheckpointError, match=f"{shard}: not a readable safetensors file"):
        HFModel(path=str(broken))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_requested_without_cuda_is_refused_before_loading(checkpoint):
    with pytest.raises(ValueError, match="device 'cuda' requested but CUDA is not available"):
        HFModel(path=str(checkpoint), device="cuda")
