"""Loading a local checkpoint: config, model, processor and tokenizer, offline, safetensors only, no remote code
unless asked; and a cheap fingerprint of the checkpoint files."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

_IMAGE_TOKEN_KEYS = ("image_token_id", "image_token_index", "video_token_id", "video_token_index")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read: the model (on its device, in eval mode) and its text/image front-ends."""

    config: Any
    model: nn.Module
    tokenizer: Any
    processor: Any  # None: a text-only model, or a VLM without a usable image processor
    is_vlm: bool
    image_token_ids: list[int]
    stop_token_ids: list[int]


def fingerprint(path: str) -> str:
    """sha256 over ``config.json`` and, per safetensors shard, its name, size, header and first and last MiB;
    ``unresolved`` if ``path`` is not found locally."""
    folder = Path(path)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(str(path), local_files_only=True))
        except Exception:
            return "unresolved"
    digest = hashlib.sha256()
    for file in [folder / "config.json", *sorted(folder.glob("*.safetensors"))]:
        if not file.is_file():
            continue
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), 2)
                digest.update(handle.read())
    return digest.hexdigest()


def load_checkpoint(
    path: str, dtype: str = "auto", device: str = "cpu", trust_remote_code: bool = False,
    attn_implementation: str | None = None,
) -> Checkpoint:
    """Read ``path`` (a directory or a repo id already in the local HF cache; never downloaded)."""
    from transformers import AutoConfig

    check_device(device)
    folder = resolve_checkpoint(path)
    load = {"trust_remote_code": bool(trust_remote_code), "local_files_only": True}
    config = AutoConfig.from_pretrained(str(folder), **load)
    is_vlm = _is_vlm(config)
    check_safetensors(folder)
    model = _load_model(str(folder), load, is_vlm, dtype, device, attn_implementation)
    processor = _load_processor(path, config, load) if is_vlm else None
    tokenizer = processor.tokenizer if processor is not None else _load_tokenizer(path, load)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Checkpoint(config, model, tokenizer, processor, is_vlm, _image_token_ids(config, processor),
                      _stop_token_ids(model, tokenizer))


class CheckpointError(ValueError):
    """A checkpoint that is missing, incomplete or corrupt; the message names the path and file."""


def check_device(device: str) -> None:
    """Refuse a device this machine does not have before anything is loaded."""
    name = str(device)
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"hf: device {name!r} requested but CUDA is not available on this machine "
                         "(torch.cuda.is_available() is False); use device = 'cpu'")
    if name.startswith("cuda:") and name[5:].isdigit() and int(name[5:]) >= torch.cuda.device_count():
        raise ValueError(f"hf: device {name!r} requested but this machine has {torch.cuda.device_count()} CUDA "
                         "device(s)")


def resolve_checkpoint(path: str) -> Path:
    """The local folder of ``path``: a directory holding ``config.json``, or a repo id in the local HF cache."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise CheckpointError(f"hf: checkpoint directory {folder} has no config.json; expected a transformers "
                                  "checkpoint (config.json + *.safetensors)")
        return folder
    if folder.exists() or path.count("/") > 1 or path.startswith((".", "/", "~")):  # a path, not a repo id
        raise CheckpointError(f"hf: checkpoint path {path!r} is not an existing directory")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache (or not a valid repo id): one clear message
        raise CheckpointError(
            f"hf: checkpoint {path!r} is neither an existing directory nor a repo id in the local Hugging Face cache "
            "(vleval never downloads; download it first, e.g. `hf download ...`, or give the directory)"
        ) from None


def check_safetensors(folder: Path) -> None:
    """Every ``*.safetensors`` shard must have a readable header: a truncated or corrupt file is named here instead
    of failing deep inside ``from_pretrained``."""
    from safetensors import safe_open

    for shard in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(shard), framework="pt") as handle:
                handle.keys()
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise CheckpointError(f"hf: {shard}: not a readable safetensors file ({exc})") from None


def _torch_dtype(dtype: str) -> Any:
    if dtype == "auto":
        return "auto"
    value = getattr(torch, str(dtype).replace("torch.", ""), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"hf: unknown dtype {dtype!r} (use 'auto', 'float32', 'bfloat16' or 'float16')")
    return value


def _is_vlm(config: Any) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return getattr(config, "vision_config", None) is not None or (
        config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES and hasattr(config, "text_config")
    )


def _load_model(
    path: str, load: dict[str, Any], is_vlm: bool, dtype: str, device: str, attn_implementation: str | None
) -> nn.Module:
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    kwargs: dict[str, Any] = {**load, "dtype": _torch_dtype(dtype), "use_safetensors": True}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    auto = AutoModelForImageTextToText if is_vlm else AutoModelForCausalLM
    if str(device) != "cpu" and importlib.util.find_spec("accelerate") is not None:
        kwargs["device_map"] = device  # load straight onto the device instead of through host memory
    model = auto.from_pretrained(path, **kwargs)
    return model.to(device).eval()


def _load_tokenizer(path: str, load: dict[str, Any]) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, **load)


def _load_processor(path: str, config: Any, load: dict[str, Any]) -> Any:
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(path, **load)
    except Exception as err:  # noqa: BLE001 - e.g. a video processor needing torchvision
        try:
            processor = _image_only_processor(path, config, load, err)
        except Exception as err2:  # noqa: BLE001
            log.warning("hf: %s: no usable processor (%s); images are not supported", path, err2)
            return None
    if getattr(processor, "image_processor", None) is None:
        log.warning("hf: %s: processor %s handles no images", path, type(processor).__name__)
        return None
    return processor


def _image_only_processor(path: str, config: Any, load: dict[str, Any], err: Exception) -> Any:
    """The checkpoint's processor class built from its tokenizer and image processor only (no video/audio)."""
    import transformers
    from transformers import AutoImageProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    saved: dict[str, Any] = {}
    cfg_file = Path(path) / "processor_config.json"
    if cfg_file.is_file():
        saved = json.loads(cfg_file.read_text())
    name = saved.get("processor_class") or PROCESSOR_MAPPING_NAMES.get(config.model_type)
    cls = getattr(transformers, name, None) if name else None
    if cls is None:
        raise ValueError(f"hf: cannot load the processor of {path}: {err}") from err

    class ImageOnly(cls):  # type: ignore[misc, valid-type]
        def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
            return None if argument is None else super().check_argument_for_proper_class(argument_name, argument)

    tokenizer = AutoTokenizer.from_pretrained(path, **load)
    params = inspect.signature(cls.__init__).parameters
    parts: dict[str, Any] = {k: v for k, v in saved.items() if k in params and k != "chat_template"}
    for attr in cls.get_attributes():
        if attr == "tokenizer":
            parts[attr] = tokenizer
        elif attr == "image_processor":
            parts[attr] = AutoImageProcessor.from_pretrained(path, **load)
        else:
            parts[attr] = None
    try:
        processor = ImageOnly(**parts, chat_template=tokenizer.chat_template)
    except Exception as err2:
        raise ValueError(f"hf: cannot load the processor of {path}: {err}; image-only: {err2}") from err2
    log.warning("hf: %s: full processor unavailable (%s); using its image-only part", path, err)
    return processor


def _image_token_ids(config: Any, processor: Any) -> list[int]:
    ids: set[int] = set()
    for source in (config, processor):
        for key in _IMAGE_TOKEN_KEYS:
            value = getattr(source, key, None)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                ids.add(value)
    return sorted(ids)


def _stop_token_ids(model: nn.Module, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    gen = getattr(model, "generation_config", None)
    for value in (getattr(gen, "eos_token_id", None), tokenizer.eos_token_id, tokenizer.pad_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return sorted(ids)
