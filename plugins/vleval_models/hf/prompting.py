"""Prompts to model inputs: chat templates, tokenisation with or without images, batching by image presence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image


def image_groups(images: Sequence[Image | None]) -> list[list[int]]:
    """Indices split into runs with and without images (a processor call takes one kind)."""
    with_img = [i for i, img in enumerate(images) if img is not None]
    without = [i for i, img in enumerate(images) if img is None]
    return [g for g in (with_img, without) if g]


class Prompter:
    """The checkpoint's text/image front-end: its processor when it takes images, else its tokenizer."""

    def __init__(self, path: str, tokenizer: Any, processor: Any, device: str):
        self.path = path
        self.tokenizer = tokenizer
        self.processor = processor
        self.device = device

    def chat(self, text: str, image: bool, generation_prompt: bool = True) -> tuple[str, bool]:
        """The prompt string for one user turn, and whether it already holds the special tokens."""
        template_owner = self.processor if self.processor is not None else self.tokenizer
        if getattr(template_owner, "chat_template", None):
            if self.processor is not None:
                content: Any = [{"type": "image"}] if image else []
                content += [{"type": "text", "text": text}] if text else []
            else:
                content = text
            rendered = template_owner.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=generation_prompt, tokenize=False
            )
            return rendered, True
        if image:
            token = getattr(self.processor, "image_token", None)
            if token is None:
                raise ValueError(f"hf: {self.path} has no chat template and no image token to place the image")
            text = f"{token}\n{text}"
        return text, False

    def chats(
        self, texts: Sequence[str], images: Sequence[Image | None], generation_prompt: bool = True
    ) -> tuple[list[str], bool]:
        """:meth:`chat` for a batch: the prompt strings, and whether all of them hold their special tokens."""
        prepared = [self.chat(t, img is not None, generation_prompt) for t, img in zip(texts, images, strict=True)]
        return [p for p, _ in prepared], all(t for _, t in prepared)

    def encode(self, texts: Sequence[str], images: Sequence[Image | None], templated: bool, side: str) -> Any:
        """Tokenised batch on the model's device; ``side`` is the padding side."""
        old = self.tokenizer.padding_side
        self.tokenizer.padding_side = side
        try:
            kwargs: dict[str, Any] = {"padding": True, "return_tensors": "pt", "add_special_tokens": not templated}
            if any(img is not None for img in images):
                if self.processor is None:
                    raise ValueError(
                        f"hf: {self.path} cannot take images (text-only model, or no usable image processor)"
                    )
                if not all(img is not None for img in images):
                    raise ValueError("hf: a batch must have an image for every prompt or for none")
                # one list per prompt: processors that expect nested images need it, the others accept it
                batch = self.processor(text=list(texts), images=[[img] for img in images], **kwargs)
            elif self.processor is not None:
                batch = self.processor(text=list(texts), **kwargs)
            else:
                batch = self.tokenizer(list(texts), **kwargs)
        finally:
            self.tokenizer.padding_side = old
        return batch.to(self.device)
