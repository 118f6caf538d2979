"""Request bodies: chat messages with images as base64 PNG data URLs, generation and first-token logprob requests.

PNG encoding costs milliseconds per image (more than everything else the client does), and the core sends the same
decoded images again in every timed pass; so each image object is encoded once while it lives (a memo keyed by
object identity, dropped when the image is garbage collected, at most :data:`MEMO_BYTES` in all). An image modified
in place after its first request would be sent as it was then.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

#: extra request fields that make each server return routing (and the token ids that tell image tokens apart)
ROUTING_FIELDS: dict[str, dict[str, Any]] = {
    "sglang": {"return_routed_experts": True, "return_prompt_token_ids": True, "return_token_ids": True},
    "vllm": {"return_token_ids": True},  # routed_experts come with --enable-return-routed-experts alone
}


MEMO_BYTES = 512 * 2**20
_memo: dict[int, str] = {}
_memo_lock = threading.Lock()
_memo_size = [0]


def _forget(key: int) -> None:
    with _memo_lock:
        url = _memo.pop(key, None)
        _memo_size[0] -= len(url) if url else 0


def encode_png(image: Image) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=1)  # lossless; fast rather than small
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_url(image: Image) -> str:
    """The image as a PNG data URL, encoded once per image object (see the module docstring)."""
    key = id(image)
    with _memo_lock:
        url = _memo.get(key)
    if url is not None:
        return url
    url = encode_png(image)
    with _memo_lock:
        if key not in _memo and _memo_size[0] + len(url) <= MEMO_BYTES:
            try:
                weakref.finalize(image, _forget, key)
            except TypeError:  # not weak-referenceable: never memoised
                return url
            _memo[key] = url
            _memo_size[0] += len(url)
    return url


def messages(text: str, image: Image | None) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if image is not None:
        content.append({"type": "image_url", "image_url": {"url": image_url(image)}})
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


def chat_body(model: str, text: str, image: Image | None, max_tokens: int, *, stream: bool,
              top_logprobs: int = 0, seed: int | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Greedy chat completion; ``top_logprobs > 0`` asks for the logprobs of each generated token's alternatives."""
    body: dict[str, Any] = {"model": model, "messages": messages(text, image), "max_tokens": int(max_tokens),
                            "temperature": 0.0, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if top_logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = int(top_logprobs)
    if seed is not None:
        body["seed"] = int(seed)
    body.update(extra or {})
    return body


def encode(body: dict[str, Any]) -> bytes:
    """The canonical JSON of ``body`` (sorted keys, compact), sent as is and hashed for the cache key.

    Image data URLs (hundreds of kB of base64, which needs no JSON escaping) are spliced in after serialising the
    rest, instead of being scanned by the encoder on every request.
    """
    urls: list[str] = []
    shallow = dict(body)
    shallow["messages"] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                url = (part.get("image_url") or {}).get("url", "") if part.get("type") == "image_url" else ""
                if url.startswith("data:") and url.isascii() and '"' not in url and "\\" not in url:
                    parts.append({**part, "image_url": {**part["image_url"], "url": f"@@vleval-image-{len(urls)}@@"}})
                    urls.append(url)
                else:
                    parts.append(part)
            message = {**message, "content": parts}
        shallow["messages"].append(message)
    data = json.dumps(shallow, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    for i, url in enumerate(urls):
        data = data.replace(f'"@@vleval-image-{i}@@"'.encode(), b'"' + url.encode("ascii") + b'"', 1)
    return data
