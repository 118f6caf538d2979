"""Tiny random-weight checkpoints of every supported architecture, built offline for tests and benchmarks.

``build(arch, out_dir)`` writes a complete local checkpoint (config, safetensors weights, a WordLevel tokenizer made
with the ``tokenizers`` library, and the image processor and chat template a VLM needs) that
``HFModel(path=out_dir)`` loads without any download. Router weights are re-drawn with a large scale, and
score-correction biases are made non-zero, so that routing decisions are well separated and exercise the bias.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

BASE_SPECIAL = ["<pad>", "<unk>", "<s>", "<|im_start|>", "<|im_end|>"]
WORDS = (
    "user", "assistant", "system", "a", "an", "the", "of", "and", "or", "is", "are", "in", "on", "at", "to", "what",
    "which", "who", "this", "that", "it", "image", "picture", "photo", "color", "shape", "describe", "answer", "with",
    "option", "options", "letter", "from", "given", "choices", "directly", "question", "hint", "choose", "correct",
    "best", "A", "B", "C", "D", "E", "yes", "no", "red", "green", "blue", "yellow", "black", "white", "cat", "dog",
    "car", "tree", "man", "woman", "sky", "sea", "one", "two", "three", "there", "many", "how", "where", "left",
    "right", "top", "bottom", "big", "small", ".", ",", "?", ":", "!", "'", "0", "1", "2", "3", "4", "5", "6", "7",
    "8", "9", "+", "-", "=", "the_end",
)

TEXT_ARCHS = ("qwen3_moe", "qwen2_moe", "mixtral", "olmoe", "deepseek_v3", "gpt_oss", "granitemoe", "phimoe",
              "glm4_moe", "dots1", "deepseek_v2", "ernie4_5_moe", "qwen3_next", "minimax")
VLM_ARCHS = ("qwen3_vl_moe", "qwen3_5_moe", "glm4v_moe", "internvl", "kimi_k25", "llama4", "aria", "gemma4",
             "ernie4_5_vl_moe")
ARCHS = TEXT_ARCHS + VLM_ARCHS


def _template(image_markup: str) -> str:
    return (
        "{% for m in messages %}<|im_start|>{{ m.role }} {% if m.content is string %}{{ m.content }}{% else %}"
        "{% for c in m.content %}{% if c.type == 'image' %}" + image_markup + "{% else %}{{ c.text }}{% endif %}"
        "{% endfor %}{% endif %}<|im_end|> {% endfor %}{% if add_generation_prompt %}<|im_start|>assistant "
        "{% endif %}"
    )


def tokenizer(
    extra_special: list[str] | tuple[str, ...] = (), image_markup: str = "", named: dict[str, str] | None = None
) -> Any:
    """A word-level ``PreTrainedTokenizerFast`` over :data:`WORDS` with a ChatML-like template.

    ``named`` maps tokenizer attributes to special tokens (``{"image_token": "<image>"}`` gives ``tok.image_token``
    and ``tok.image_token_id``), as processors expect of some tokenizers.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    extra = list(extra_special) + [t for t in (named or {}).values() if t not in extra_special]
    specials = BASE_SPECIAL + [t for t in extra if t not in BASE_SPECIAL]
    vocab = {tok: i for i, tok in enumerate(specials + [w for w in WORDS if w not in specials])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")
    kwargs: dict[str, Any] = {"extra_special_tokens": dict(named)} if named else {}
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="<|im_end|>",
        **kwargs,
    )
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in specials], special_tokens=True)
    tok.chat_template = _template(image_markup)
    return tok


def _ids(tok: Any) -> dict[str, int]:
    return {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}


def _text_common(tok: Any, scale: str) -> dict[str, Any]:
    big = scale == "bench"
    return {
        "vocab_size": len(tok), "hidden_size": 256 if big else 32, "intermediate_size": 512 if big else 64,
        "num_hidden_layers": 8 if big else 2, "num_attention_heads": 8 if big else 4, "num_key_value_heads": 2,
        "max_position_embeddings": 512, "tie_word_embeddings": False, **_ids(tok),
    }


def _moe(scale: str, experts: int = 4, k: int = 2) -> dict[str, int]:
    big = scale == "bench"
    return {"num_experts": 16 if big else experts, "num_experts_per_tok": 4 if big else k,
            "moe_intermediate_size": 128 if big else 16}


def _qwen3_moe(tok: Any, scale: str) -> Any:
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    common = _text_common(tok, scale)
    cfg = Qwen3MoeConfig(**common, **_moe(scale), head_dim=common["hidden_size"] // common["num_attention_heads"],
                         norm_topk_prob=True)
    return Qwen3MoeForCausalLM(cfg)


def _qwen2_moe(tok: Any, scale: str) -> Any:
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM

    cfg = Qwen2MoeConfig(**_text_common(tok, scale), **_moe(scale), shared_expert_intermediate_size=32)
    return Qwen2MoeForCausalLM(cfg)


def _mixtral(tok: Any, scale: str) -> Any:
    from transformers import MixtralConfig, MixtralForCausalLM

    moe = _moe(scale)
    cfg = MixtralConfig(**_text_common(tok, scale), num_local_experts=moe["num_experts"],
                        num_experts_per_tok=moe["num_experts_per_tok"])
    return MixtralForCausalLM(cfg)


def _olmoe(tok: Any, scale: str) -> Any:
    from transformers import OlmoeConfig, OlmoeForCausalLM

    moe = _moe(scale)
    cfg = OlmoeConfig(**_text_common(tok, scale), num_experts=moe["num_experts"],
                      num_experts_per_tok=moe["num_experts_per_tok"])
    return OlmoeForCausalLM(cfg)


def _deepseek_text(tok: Any, scale: str) -> dict[str, Any]:
    common = _text_common(tok, scale)
    common.pop("num_key_value_heads")
    return {
        **common, "num_key_value_heads": common["num_attention_heads"], "moe_intermediate_size": 16,
        "n_routed_experts": 8, "num_experts_per_tok": 2, "n_group": 4, "topk_group": 2, "n_shared_experts": 1,
        "first_k_dense_replace": 0, "kv_lora_rank": 16, "q_lora_rank": 16, "qk_rope_head_dim": 4, "v_head_dim": 8,
        "qk_nope_head_dim": 4, "routed_scaling_factor": 2.5, "norm_topk_prob": True,
    }


def _deepseek_v3(tok: Any, scale: str) -> Any:
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    return DeepseekV3ForCausalLM(DeepseekV3Config(**_deepseek_text(tok, scale)))


def _gpt_oss(tok: Any, scale: str) -> Any:
    from transformers import GptOssConfig, GptOssForCausalLM

    common = _text_common(tok, scale)
    moe = _moe(scale)
    cfg = GptOssConfig(**common, num_local_experts=moe["num_experts"], num_experts_per_tok=moe["num_experts_per_tok"],
                       head_dim=common["hidden_size"] // common["num_attention_heads"], sliding_window=16,
                       layer_types=["sliding_attention", "full_attention"] * (common["num_hidden_layers"] // 2))
    return GptOssForCausalLM(cfg)


def _granitemoe(tok: Any, scale: str) -> Any:
    from transformers import GraniteMoeConfig, GraniteMoeForCausalLM

    moe = _moe(scale)
    cfg = GraniteMoeConfig(**_text_common(tok, scale), num_local_experts=moe["num_experts"],
                           num_experts_per_tok=moe["num_experts_per_tok"])
    return GraniteMoeForCausalLM(cfg)


def _phimoe(tok: Any, scale: str) -> Any:
    from transformers import PhimoeConfig, PhimoeForCausalLM

    moe = _moe(scale)
    cfg = PhimoeConfig(**_text_common(tok, scale), num_local_experts=moe["num_experts"], num_experts_per_tok=2)
    return PhimoeForCausalLM(cfg)


def _glm4_moe(tok: Any, scale: str) -> Any:
    from transformers import Glm4MoeConfig, Glm4MoeForCausalLM

    common = _text_common(tok, scale)
    cfg = Glm4MoeConfig(**common, moe_intermediate_size=16, n_routed_experts=8, num_experts_per_tok=2, n_group=4,
                        topk_group=2, n_shared_experts=1, first_k_dense_replace=0,
                        head_dim=common["hidden_size"] // common["num_attention_heads"])
    return Glm4MoeForCausalLM(cfg)


def _dots1(tok: Any, scale: str) -> Any:
    from transformers import Dots1Config, Dots1ForCausalLM

    cfg = Dots1Config(**_text_common(tok, scale), moe_intermediate_size=16, n_routed_experts=8, num_experts_per_tok=2,
                      n_group=4, topk_group=2, n_shared_experts=1, first_k_dense_replace=0, norm_topk_prob=True)
    return Dots1ForCausalLM(cfg)


def _deepseek_v2(tok: Any, scale: str) -> Any:
    from transformers import DeepseekV2Config, DeepseekV2ForCausalLM

    text = _deepseek_text(tok, scale)
    text.pop("num_key_value_heads")
    cfg = DeepseekV2Config(**text, topk_method="group_limited_greedy")
    return DeepseekV2ForCausalLM(cfg)


def _ernie4_5_moe(tok: Any, scale: str) -> Any:
    from transformers import Ernie4_5_MoeConfig, Ernie4_5_MoeForCausalLM

    moe = _moe(scale)
    cfg = Ernie4_5_MoeConfig(**_text_common(tok, scale), moe_num_experts=moe["num_experts"],
                             moe_k=moe["num_experts_per_tok"], moe_intermediate_size=16, moe_num_shared_experts=1,
                             moe_layer_start_index=0)
    return Ernie4_5_MoeForCausalLM(cfg)


def _qwen3_next(tok: Any, scale: str) -> Any:
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    common = _text_common(tok, scale)
    cfg = Qwen3NextConfig(
        **common, **_moe(scale), head_dim=common["hidden_size"] // common["num_attention_heads"],
        shared_expert_intermediate_size=16, linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2,
        linear_num_value_heads=4,
        layer_types=["linear_attention", "full_attention"] * (common["num_hidden_layers"] // 2),
    )
    return Qwen3NextForCausalLM(cfg)


def _minimax(tok: Any, scale: str) -> Any:
    from transformers import MiniMaxConfig, MiniMaxForCausalLM

    common = _text_common(tok, scale)
    moe = _moe(scale)
    cfg = MiniMaxConfig(**common, num_local_experts=moe["num_experts"], num_experts_per_tok=moe["num_experts_per_tok"],
                        head_dim=common["hidden_size"] // common["num_attention_heads"], block_size=16,
                        layer_types=["linear_attention", "full_attention"] * (common["num_hidden_layers"] // 2))
    return MiniMaxForCausalLM(cfg)


def _qwen_vision_tok() -> tuple[Any, dict[str, int]]:
    special = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = tokenizer(special, "<|vision_start|><|image_pad|><|vision_end|>")
    ids = {
        "image_token_id": tok.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tok.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tok.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tok.convert_tokens_to_ids("<|vision_end|>"),
    }
    return tok, ids


def _qwen_image_processor() -> Any:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(patch_size=8, temporal_patch_size=2, merge_size=2, min_pixels=16 * 16,
                                    max_pixels=32 * 32)


def _qwen3_vl_moe(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Qwen3VLMoeConfig, Qwen3VLMoeForConditionalGeneration

    tok, ids = _qwen_vision_tok()
    common = _text_common(tok, scale)
    heads = common["num_attention_heads"]
    text = {
        **common, **_moe(scale), "head_dim": common["hidden_size"] // heads,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2] if heads == 4
                            else [4, 6, 6], "mrope_interleaved": True},
    }
    vision = {"depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "patch_size": 8,
              "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": common["hidden_size"],
              "num_position_embeddings": 16, "deepstack_visual_indexes": [0]}
    cfg = Qwen3VLMoeConfig(text_config=text, vision_config=vision, **ids)
    return Qwen3VLMoeForConditionalGeneration(cfg), tok, _qwen_image_processor(), "Qwen3VLProcessor"


def _qwen3_5_moe(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Qwen3_5MoeConfig, Qwen3_5MoeForConditionalGeneration

    tok, ids = _qwen_vision_tok()
    common = _text_common(tok, scale)
    heads = common["num_attention_heads"]
    text = {
        **common, **_moe(scale), "head_dim": common["hidden_size"] // heads, "shared_expert_intermediate_size": 16,
        "linear_key_head_dim": 8, "linear_value_head_dim": 8, "linear_num_key_heads": 2, "linear_num_value_heads": 4,
        "layer_types": ["linear_attention", "full_attention"] * (common["num_hidden_layers"] // 2),
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                            "mrope_section": [1, 1, 0] if heads == 4 else [2, 3, 3], "mrope_interleaved": True},
    }
    vision = {"depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "patch_size": 8,
              "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": common["hidden_size"],
              "num_position_embeddings": 16}
    cfg = Qwen3_5MoeConfig(text_config=text, vision_config=vision, **ids)
    return Qwen3_5MoeForConditionalGeneration(cfg), tok, _qwen_image_processor(), "Qwen3VLProcessor"


def _glm4v_moe(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Glm4vMoeConfig, Glm4vMoeForConditionalGeneration
    from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil

    special = ["<|image|>", "<|video|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
               "<|end_of_video|>"]
    tok = tokenizer(special, "<|begin_of_image|><|image|><|end_of_image|>")
    common = _text_common(tok, scale)
    heads = common["num_attention_heads"]
    text = {
        **common, "moe_intermediate_size": 16, "n_routed_experts": 8, "num_experts_per_tok": 2, "n_group": 4,
        "topk_group": 2, "n_shared_experts": 1, "first_k_dense_replace": 0, "routed_scaling_factor": 1.0,
        "head_dim": common["hidden_size"] // heads,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                            "mrope_section": [1, 1, 0] if heads == 4 else [2, 3, 3]},
    }
    vision = {"depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "patch_size": 8,
              "image_size": 32, "spatial_merge_size": 2, "temporal_patch_size": 2,
              "out_hidden_size": common["hidden_size"]}
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in [
        ("image_token_id", "<|image|>"), ("video_token_id", "<|video|>"),
        ("image_start_token_id", "<|begin_of_image|>"),
        ("image_end_token_id", "<|end_of_image|>"), ("video_start_token_id", "<|begin_of_video|>"),
        ("video_end_token_id", "<|end_of_video|>")]}
    cfg = Glm4vMoeConfig(text_config=text, vision_config=vision, **ids)
    ip = Glm4vImageProcessorPil(patch_size=8, temporal_patch_size=2, merge_size=2,
                                size={"shortest_edge": 16 * 16, "longest_edge": 32 * 32})
    return Glm4vMoeForConditionalGeneration(cfg), tok, ip, "Glm4vProcessor"


def _internvl(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import InternVLConfig, InternVLForConditionalGeneration
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    named = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
             "video_token": "<video>"}
    tok = tokenizer(named=named, image_markup="<IMG_CONTEXT>")
    common = _text_common(tok, scale)
    text = {**common, **_moe(scale), "model_type": "qwen3_moe", "norm_topk_prob": True,
            "head_dim": common["hidden_size"] // common["num_attention_heads"]}
    vision = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
              "image_size": [32, 32], "patch_size": [8, 8]}
    cfg = InternVLConfig(text_config=text, vision_config=vision, image_seq_length=4,
                         image_token_id=tok.context_image_token_id)
    ip = GotOcr2ImageProcessorPil(size={"height": 32, "width": 32}, crop_to_patches=False)
    return InternVLForConditionalGeneration(cfg), tok, ip, "InternVLProcessor"


def _kimi_k25(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Kimi_K25Config, Kimi_K25ForConditionalGeneration

    named = {"image_token": "<|media_pad|>"}
    tok = tokenizer(["<|media_begin|>", "<|media_end|>"], "<|media_begin|><|media_pad|><|media_end|>", named)
    text = {**_deepseek_text(tok, scale), "model_type": "deepseek_v3"}
    vision = {"patch_size": 8, "pos_emb_height": 8, "pos_emb_width": 8, "num_attention_heads": 2,
              "num_hidden_layers": 2, "hidden_size": 16, "intermediate_size": 32, "merge_kernel_size": [2, 2]}
    cfg = Kimi_K25Config(text_config=text, vision_config=vision, projection_hidden_size=16,
                         image_token_id=tok.image_token_id,
                         **{k: v for k, v in _ids(tok).items() if k != "bos_token_id"})
    return Kimi_K25ForConditionalGeneration(cfg), tok, None, "Kimi_K25Processor"


def _llama4(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Llama4Config, Llama4ForConditionalGeneration

    special = ["<|image_start|>", "<|image_end|>", "<|image|>", "<|patch|>", "<|tile_x_separator|>",
               "<|tile_y_separator|>"]
    tok = tokenizer(special, "<|image|>")
    common = _text_common(tok, scale)
    moe = _moe(scale)
    text = {**common, "num_local_experts": moe["num_experts"], "num_experts_per_tok": moe["num_experts_per_tok"],
            "intermediate_size_mlp": 64, "head_dim": common["hidden_size"] // common["num_attention_heads"],
            "interleave_moe_layer_step": 1, "attention_chunk_size": 64, "no_rope_layer_interval": 2}
    vision = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
              "image_size": 32, "patch_size": 8, "vision_output_dim": 32, "projector_input_dim": 32,
              "projector_output_dim": 32, "pixel_shuffle_ratio": 0.5}
    cfg = Llama4Config(text_config=text, vision_config=vision, image_token_index=tok.convert_tokens_to_ids("<|patch|>"),
                       boi_token_index=tok.convert_tokens_to_ids("<|image_start|>"),
                       eoi_token_index=tok.convert_tokens_to_ids("<|image_end|>"))
    return Llama4ForConditionalGeneration(cfg), tok, None, "Llama4Processor"


def _aria(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import AriaConfig, AriaForConditionalGeneration
    from transformers.models.aria.image_processing_pil_aria import AriaImageProcessorPil

    tok = tokenizer(image_markup="<|img|>", named={"image_token": "<|img|>"})
    common = _text_common(tok, scale)
    moe = _moe(scale)
    text = {**common, "moe_num_experts": moe["num_experts"], "moe_topk": moe["num_experts_per_tok"],
            "moe_num_shared_experts": 1, "intermediate_size": 16}
    # AriaProcessor always asks for 980-pixel crops: 7 x 7 patches of 140 pixels keep the tower tiny
    vision = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
              "image_size": 980, "patch_size": 140}
    cfg = AriaConfig(text_config=text, vision_config=vision, projector_patch_to_query_dict={49: 4},
                     image_token_index=tok.image_token_id)
    ip = AriaImageProcessorPil(max_image_size=980, min_image_size=980)
    return AriaForConditionalGeneration(cfg), tok, ip, "AriaProcessor"


def _gemma4(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Gemma4Config, Gemma4ForConditionalGeneration
    from transformers.models.gemma4.image_processing_pil_gemma4 import Gemma4ImageProcessorPil

    named = {"image_token": "<|image|>", "boi_token": "<|boi|>", "eoi_token": "<|eoi|>", "audio_token": "<|audio|>",
             "boa_token": "<|boa|>", "eoa_token": "<|eoa|>"}
    tok = tokenizer(["<|video|>"], "<|image|>", named)
    common = _text_common(tok, scale)
    moe = _moe(scale)
    text = {
        **common, "head_dim": common["hidden_size"] // common["num_attention_heads"], "global_head_dim": 8,
        "enable_moe_block": True, "num_experts": moe["num_experts"], "top_k_experts": moe["num_experts_per_tok"],
        "moe_intermediate_size": 16, "hidden_size_per_layer_input": 8, "vocab_size_per_layer_input": len(tok),
        "sliding_window": 16,
        "layer_types": ["sliding_attention", "full_attention"] * (common["num_hidden_layers"] // 2),
    }
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "num_key_value_heads": 2, "head_dim": 8, "patch_size": 16, "pooling_kernel_size": 3,
              "position_embedding_size": 64}
    ids = {"image_token_id": tok.image_token_id, "boi_token_id": tok.boi_token_id, "eoi_token_id": tok.eoi_token_id,
           "video_token_id": tok.convert_tokens_to_ids("<|video|>"), "audio_token_id": tok.audio_token_id,
           "boa_token_id": tok.boa_token_id, "eoa_token_index": tok.eoa_token_id}
    cfg = Gemma4Config(text_config=text, vision_config=vision, audio_config=None, **ids)
    ip = Gemma4ImageProcessorPil(max_soft_tokens=70, patch_size=16, pooling_kernel_size=3)
    return Gemma4ForConditionalGeneration(cfg), tok, ip, "Gemma4Processor"


def _ernie4_5_vl_moe(scale: str) -> tuple[Any, Any, Any, str]:
    from transformers import Ernie4_5_VLMoeConfig, Ernie4_5_VLMoeForConditionalGeneration
    from transformers.models.ernie4_5_vl_moe.image_processing_pil_ernie4_5_vl_moe import (
        Ernie4_5_VLMoeImageProcessorPil,
    )

    named = {"image_token": "<|IMAGE_PLACEHOLDER|>", "image_start_token": "<|IMAGE_START|>",
             "image_end_token": "<|IMAGE_END|>", "video_token": "<|VIDEO_PLACEHOLDER|>",
             "video_start_token": "<|VIDEO_START|>", "video_end_token": "<|VIDEO_END|>"}
    tok = tokenizer([], "<|IMAGE_START|><|IMAGE_PLACEHOLDER|><|IMAGE_END|>", named)
    common = _text_common(tok, scale)
    heads = common["num_attention_heads"]
    moe = _moe(scale)
    text = {
        **common, "moe_num_experts": moe["num_experts"], "moe_k": moe["num_experts_per_tok"],
        "moe_intermediate_size": [16, 16], "moe_num_shared_experts": 1, "mlp_layer_types": ["dense", "sparse"]
        + ["sparse"] * (common["num_hidden_layers"] - 2),
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                            "mrope_section": [1, 1, 2] if heads == 4 else [4, 6, 6]},
    }
    vision = {"depth": 2, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32, "patch_size": 8,
              "spatial_merge_size": 2, "temporal_merge_size": 2}
    ids = {f"{k}_id": getattr(tok, f"{k}_id") for k in named}
    ids = {k.replace("_token_id", "_token_id"): v for k, v in ids.items()}
    cfg = Ernie4_5_VLMoeConfig(text_config=text, vision_config=vision, **ids)
    ip = Ernie4_5_VLMoeImageProcessorPil(patch_size=8, merge_size=2, size={"shortest_edge": 16 * 16,
                                                                           "longest_edge": 32 * 32})
    return Ernie4_5_VLMoeForConditionalGeneration(cfg), tok, ip, "Ernie4_5_VLMoeProcessor"


def manual_image_batch(model: Any, tok: Any, texts: list[str]) -> dict[str, Any]:
    """Inputs with one random image per text, for VLMs whose image processor needs torchvision (not installed
    here): the image placeholder tokens the processor would insert, and pixel values of the shape it would give."""
    cfg = model.config
    kind = cfg.model_type
    tok.padding_side = "left"
    if kind == "kimi_k25":
        n_tokens, marks = 4, ("<|media_begin|>", "<|media_end|>")
        image = tok.image_token
    elif kind == "llama4":
        n_tokens, marks, image = 4, ("<|image_start|>", "<|image_end|>"), "<|patch|>"
    else:
        raise KeyError(f"no manual image inputs for {kind}")
    chats = [tok.apply_chat_template([{"role": "user", "content": f"{marks[0]} {' '.join([image] * n_tokens)} "
                                       f"{marks[1]} {t}"}], add_generation_prompt=True, tokenize=False) for t in texts]
    batch = dict(tok(chats, padding=True, return_tensors="pt", add_special_tokens=False))
    gen = torch.Generator().manual_seed(0)
    if kind == "kimi_k25":
        batch["pixel_values"] = torch.randn(16 * len(texts), 3, 8, 8, generator=gen)
        batch["image_grid_thw"] = torch.tensor([[1, 4, 4]] * len(texts))
    else:
        batch["pixel_values"] = torch.randn(len(texts), 3, 32, 32, generator=gen)
    return batch


_TEXT: dict[str, Callable[[Any, str], Any]] = {
    "qwen3_moe": _qwen3_moe, "qwen2_moe": _qwen2_moe, "mixtral": _mixtral, "olmoe": _olmoe,
    "deepseek_v3": _deepseek_v3, "gpt_oss": _gpt_oss, "granitemoe": _granitemoe, "phimoe": _phimoe,
    "glm4_moe": _glm4_moe, "dots1": _dots1, "deepseek_v2": _deepseek_v2, "ernie4_5_moe": _ernie4_5_moe,
    "qwen3_next": _qwen3_next, "minimax": _minimax,
}
_VLM: dict[str, Callable[[str], tuple[Any, Any, Any, str]]] = {
    "qwen3_vl_moe": _qwen3_vl_moe, "qwen3_5_moe": _qwen3_5_moe, "glm4v_moe": _glm4v_moe, "internvl": _internvl,
    "kimi_k25": _kimi_k25, "llama4": _llama4, "aria": _aria, "gemma4": _gemma4,
    "ernie4_5_vl_moe": _ernie4_5_vl_moe,
}


def randomize_routing(model: Any, seed: int = 0) -> None:
    """Re-draw router weights (std 1) and score-correction biases (std 0.3) so routing is decisive and biased."""
    from vleval_models.hf.routing import find_routers

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for site in find_routers(model):
            for name, tensor in [*site.module.named_parameters(), *site.module.named_buffers()]:
                if "bias" in name and "correction" in name:
                    tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.3)
                elif tensor.dim() == 2:
                    tensor.copy_(torch.randn(tensor.shape, generator=gen))


def build(arch: str, out_dir: str | Path, scale: str = "tiny", seed: int = 0) -> Path:
    """Write a random-weight ``arch`` checkpoint loadable by ``HFModel(path=out_dir)``; ``scale``: tiny | bench."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if arch in _TEXT:
        tok = tokenizer()
        model = _TEXT[arch](tok, scale)
        processor = None
    elif arch in _VLM:
        model, tok, image_processor, processor = _VLM[arch](scale)
        if image_processor is not None:  # None: the real one needs torchvision; see manual_image_batch
            image_processor.save_pretrained(out)
            settings = {"internvl": {"image_seq_length": 4}, "aria": {"size_conversion": {980: 4}}}.get(arch, {})
            (out / "processor_config.json").write_text(json.dumps({"processor_class": processor, **settings}))
    else:
        raise KeyError(f"no tiny builder for {arch!r}; known: {', '.join(ARCHS)}")
    randomize_routing(model, seed)
    model.eval().save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
