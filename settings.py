"""AutoIntel settings: the only module that reads the environment (and `.env`).

Settings are grouped in sections (Discord, Database, Redis, Worker, Qdrant, LLM, Router,
Cache, Compression, Gates, Evidence, Whisper, Pipeline/Limits, Flags, Watch, Observability).
Each section is a pydantic-settings class whose fields map onto the fixed environment names of
the settings contract; `load_settings()` validates every section and raises one `SettingsError`
naming every bad variable.
Secrets are `SecretStr`: they print as `**********` and never reach logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_FILE = ".env"


class _Section(BaseSettings):
    """Base of every section: environment first, then `.env`; unknown variables ignored."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )


class DiscordSettings(_Section):
    """Discord connection: token, guilds to sync commands to, API and gateway URLs."""

    model_config = SettingsConfigDict(env_prefix="DISCORD_")

    bot_token: SecretStr | None = None
    guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Who may run /autointel: members with these roles (empty = everyone who can see the command).
    allowed_role_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    user_runs_per_hour: int = Field(default=10, ge=1)
    guild_runs_per_hour: int = Field(default=60, ge=1)
    max_active_runs_per_guild: int = Field(default=3, ge=1)
    # Interaction tokens live 15 minutes; switch to the channel webhook this long after the command.
    token_margin_seconds: float = Field(default=780, gt=0, le=900)
    progress_edit_interval_seconds: float = Field(default=1.5, ge=0)
    webhook_name: str = "AutoIntel"

    @field_validator("guild_ids", "allowed_role_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        """Accept a comma-separated list of ids (empty guild list = global commands)."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_name")
    @classmethod
    def _allowed_webhook_name(cls, value: str) -> str:
        """Discord refuses webhook names containing "discord" or "clyde"."""
        if not 1 <= len(value) <= 80 or any(word in value.lower() for word in ("discord", "clyde")):
            raise ValueError('1-80 characters, without "discord" or "clyde"')
        return value


class DatabaseSettings(_Section):
    """Run store: unset URL = SQLite file in the data dir; `postgresql+asyncpg://...` for PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="DATABASE_")

    url: SecretStr | None = None
    pool_size: int = Field(default=5, ge=1, le=100)
    echo: bool = False

    @field_validator("url", mode="after")
    @classmethod
    def _known_driver(cls, value: SecretStr | None) -> SecretStr | None:
        """Only the two supported async drivers are accepted."""
        if value is None or not value.get_secret_value():
            return None
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class RedisSettings(_Section):
    """Redis for the job queue and cache; unset = in-process queue and cache."""

    model_config = SettingsConfigDict(env_prefix="REDIS_")

    url: SecretStr | None = None
    queue_name: str = Field(default="autointel:queue", min_length=1)


class WorkerSettings(_Section):
    """`autointel worker` processes (arq on Redis): concurrency, timeouts, crash detection."""

    model_config = SettingsConfigDict(env_prefix="WORKER_")

    concurrency: int = Field(default=1, ge=1, le=64)  # runs at once per worker (1 per GPU is typical)
    job_timeout_seconds: int = Field(default=4 * 3600, ge=60)  # above the worst-case run
    lease_seconds: float = Field(default=30, gt=0)  # a run whose worker is silent this long is resumed
    shutdown_grace_seconds: int = Field(default=30, ge=0)  # SIGTERM: let runs finish this long first


class QdrantSettings(_Section):
    """Qdrant vector store; unset URL = Qdrant local mode in the data dir."""

    model_config = SettingsConfigDict(env_prefix="QDRANT_")

    url: str | None = None
    api_key: SecretStr | None = None


class LLMSettings(_Section):
    """Language model and embedder endpoints (OpenAI-compatible); unset = embedded models."""

    model_config = SettingsConfigDict(env_prefix="LLM_")

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    structured_output: Literal["json_schema", "json_object"] = "json_schema"
    context_tokens: int = Field(default=8192, ge=1024)
    max_output_tokens: int = Field(default=700, ge=64)
    temperature: float = Field(default=0.1, ge=0, le=2)
    timeout_seconds: float = Field(default=120, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    embedded_threads: int = Field(default=0, ge=0, le=256)
    embeddings_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("EMBEDDINGS_BASE_URL")
    )
    embeddings_model: str | None = Field(default=None, validation_alias=AliasChoices("EMBEDDINGS_MODEL"))
    embeddings_batch_size: int = Field(
        default=32, ge=1, le=2048, validation_alias=AliasChoices("EMBEDDINGS_BATCH_SIZE")
    )
    embeddings_threads: int = Field(
        default=1, ge=0, le=256, validation_alias=AliasChoices("EMBEDDINGS_THREADS")
    )
    # A cross-encoder that reorders evidence passages (evidence.rerank); unset = embeddings alone.
    reranker_base_url: str | None = Field(default=None, validation_alias=AliasChoices("RERANKER_BASE_URL"))
    reranker_model: str | None = Field(default=None, validation_alias=AliasChoices("RERANKER_MODEL"))


class ModelSpec(BaseModel):
    """One entry of the model catalogue (`ROUTER_MODELS_FILE` YAML or `ROUTER_MODELS` JSON).

    `base_url` unset = the embedded model. Costs are per 1,000 tokens (0 for local models);
    `latency_seconds` and `quality` (0-1) are priors the router starts from and then learns past.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    structured_output: Literal["json_schema", "json_object", "grammar"] = "json_schema"
    context_tokens: int = Field(default=8192, ge=1024)
    max_output_tokens: int | None = Field(default=None, ge=64)
    cost_per_1k_input: float = Field(default=0.0, ge=0)
    cost_per_1k_output: float = Field(default=0.0, ge=0)
    capabilities: list[Literal["json_schema", "tools"]] = Field(default=["json_schema"])
    latency_seconds: float = Field(default=5.0, gt=0)
    quality: float = Field(default=0.5, ge=0, le=1)
    concurrency: int = Field(default=4, ge=1, le=256)
    timeout_seconds: float = Field(default=120, gt=0)

    @model_validator(mode="after")
    def _embedded_uses_grammar(self) -> ModelSpec:
        """The embedded model (no `base_url`) is grammar-constrained; a server needs a model id."""
        if self.base_url is None and self.structured_output != "grammar":
            self.structured_output = "grammar"
        if self.base_url is not None and self.structured_output == "grammar":
            raise ValueError("structured_output 'grammar' is only for the embedded model (no base_url)")
        return self


class RouterSettings(_Section):
    """Model catalogue and routing: weights, reliability threshold, exploration, fallback, breaker."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_")

    models_file: Path | None = None  # YAML catalogue (`models:` list); wins over ROUTER_MODELS
    models: Annotated[list[ModelSpec], NoDecode] = Field(default_factory=list)  # JSON; empty = LLM_*
    weight_quality: float = Field(default=0.5, ge=0)
    weight_latency: float = Field(default=0.3, ge=0)
    weight_cost: float = Field(default=0.2, ge=0)
    min_reliability: float = Field(default=0.5, ge=0, le=1)
    exploration: float = Field(default=0.05, ge=0, le=1)
    max_attempts: int = Field(default=3, ge=1, le=10)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_cooldown_seconds: float = Field(default=60, gt=0)
    seed: int | None = None  # fixes the bandit's random draws (tests, benchmarks)
    section_field: ClassVar[str] = "models_file"  # named in errors raised by the whole-section check

    @field_validator("models", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """`ROUTER_MODELS` is a JSON list; blank = none."""
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not valid JSON ({exc})") from None
        return value

    @field_validator("models_file", "seed", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """A blank line in `.env` (`ROUTER_SEED=`) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _load_file(self) -> RouterSettings:
        """Read the YAML catalogue; names must be unique."""
        if self.models_file is not None:
            try:
                raw = yaml.safe_load(self.models_file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"cannot read the model catalogue {self.models_file}: {exc}") from exc
            if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
                raise ValueError(f"{self.models_file}: expected a mapping with a `models:` list")
            try:
                self.models = TypeAdapter(list[ModelSpec]).validate_python(raw["models"])
            except ValidationError as exc:
                problems = "; ".join(
                    f"models[{e['loc'][0]}].{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}"
                    if e["loc"]
                    else e["msg"]
                    for e in exc.errors()
                )
                raise ValueError(f"{self.models_file}: {problems}") from None
        names = [spec.name for spec in self.models]
        if len(set(names)) != len(names):
            raise ValueError("model names in the catalogue must be unique")
        return self


class CacheSettings(_Section):
    """LLM response cache (Redis when `REDIS_URL` is set, else in-process LRU) and its TTLs by task."""

    model_config = SettingsConfigDict(env_prefix="CACHE_")

    enabled: bool = True
    max_entries: int = Field(default=4096, ge=1)  # in-process LRU size
    analysis_ttl_seconds: int = Field(default=30 * 86400, ge=1)  # the transcript decides the answer
    fact_check_ttl_seconds: int = Field(default=86400, ge=1)  # evidence in memory keeps growing


class CompressionSettings(_Section):
    """Optional LLMLingua compression of long transcripts (the `compression` extra); off by default."""

    model_config = SettingsConfigDict(env_prefix="COMPRESSION_")

    enabled: bool = False
    model_dir: Path | None = None  # a Hugging Face causal-LM folder; unset = converted bundled SmolLM2
    rate: float = Field(default=0.5, gt=0, lt=1)  # fraction of tokens to keep
    min_tokens: int = Field(default=1000, ge=1)  # shorter transcripts are left alone

    @field_validator("model_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """A blank line in `.env` means unset."""
        return None if isinstance(value, str) and not value.strip() else value


class GateSettings(_Section):
    """Quality gates on every model answer and the evidence-consistency judge (crews.gates, crews.judge)."""

    model_config = SettingsConfigDict(env_prefix="GATE_")

    # An item is grounded when 0.5·cosine + 0.5·word overlap with its best transcript window reaches this.
    grounding_threshold: float = Field(default=0.5, ge=0, le=1)
    duplicate_cosine: float = Field(default=0.9, gt=0, le=1)  # items at least this similar are duplicates
    # Evidence at least this similar to a claim is about the same subject (figures and negation compared).
    subject_similarity: float = Field(default=0.6, ge=0, le=1)
    # Without a capable model, "supported" needs evidence at least this similar (a close paraphrase).
    paraphrase_similarity: float = Field(default=0.72, ge=0, le=1)


EvidenceSource = Literal["memory", "searxng", "wikipedia", "zim"]


def _default_sources() -> list[EvidenceSource]:
    return ["memory", "wikipedia"]


class EvidenceSettings(_Section):
    """Where fact-checks look for evidence: memory, SearxNG, Wikipedia, offline Kiwix ZIM archives."""

    model_config = SettingsConfigDict(env_prefix="")

    # Ordered comma list of: memory, searxng, wikipedia, zim.
    sources: Annotated[list[EvidenceSource], NoDecode] = Field(
        default_factory=_default_sources, validation_alias=AliasChoices("EVIDENCE_SOURCES")
    )
    searxng_url: str | None = Field(default=None, validation_alias=AliasChoices("SEARXNG_URL"))
    wikipedia_api_url: str = Field(
        default="https://en.wikipedia.org/w/api.php", validation_alias=AliasChoices("WIKIPEDIA_API_URL")
    )
    zim_path: Path | None = Field(default=None, validation_alias=AliasChoices("ZIM_PATH"))
    user_agent: str = Field(
        default="AutoIntel/0.1 (self-hosted fact-checking bot; operator contact not set: HTTP_USER_AGENT)",
        validation_alias=AliasChoices("HTTP_USER_AGENT"),
    )
    cache_ttl_seconds: int = Field(
        default=7 * 86400, ge=1, validation_alias=AliasChoices("EVIDENCE_CACHE_TTL_SECONDS")
    )
    fetch_timeout_seconds: float = Field(
        default=10, gt=0, validation_alias=AliasChoices("EVIDENCE_FETCH_TIMEOUT_SECONDS")
    )
    max_page_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, validation_alias=AliasChoices("EVIDENCE_MAX_PAGE_BYTES")
    )
    per_host_concurrency: int = Field(
        default=4, ge=1, le=64, validation_alias=AliasChoices("EVIDENCE_PER_HOST_CONCURRENCY")
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """`memory,wikipedia` in the environment; duplicates dropped, order kept."""
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        return list(dict.fromkeys(value)) if isinstance(value, list) else value

    @field_validator("searxng_url", "zim_path", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """A blank line in `.env` means unset."""
        return None if isinstance(value, str) and not value.strip() else value


class WhisperSettings(_Section):
    """Transcription: model name or path (unset = bundled tiny.en), device and precision."""

    model_config = SettingsConfigDict(env_prefix="WHISPER_")

    model: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"
    beam_size: int = Field(default=1, ge=1, le=10)
    cpu_threads: int = Field(default=0, ge=0, le=256)
    batch_size: int = Field(default=8, ge=1, le=64)
    language: str | None = None


class PipelineSettings(_Section):
    """Where data lives and the limits every run obeys."""

    model_config = SettingsConfigDict(env_prefix="")

    data_dir: Path = Field(default=Path("data"), validation_alias=AliasChoices("AUTOINTEL_DATA_DIR"))
    max_duration_seconds: int = Field(
        default=3 * 3600, ge=1, validation_alias=AliasChoices("MAX_MEDIA_DURATION_SECONDS")
    )
    max_filesize_mb: float = Field(default=500, gt=0, validation_alias=AliasChoices("MAX_MEDIA_FILESIZE_MB"))
    socket_timeout_seconds: float = Field(
        default=20, gt=0, validation_alias=AliasChoices("FETCH_SOCKET_TIMEOUT_SECONDS")
    )
    allow_private_urls: bool = Field(default=False, validation_alias=AliasChoices("ALLOW_PRIVATE_URLS"))
    prefer_subtitles: bool = Field(default=True, validation_alias=AliasChoices("PREFER_SUBTITLES"))
    subtitle_language: str = Field(default="en", validation_alias=AliasChoices("SUBTITLE_LANGUAGE"))
    queue_concurrency: int = Field(default=2, ge=1, le=64, validation_alias=AliasChoices("QUEUE_CONCURRENCY"))

    @property
    def max_filesize_bytes(self) -> int:
        """The size limit in bytes."""
        return int(self.max_filesize_mb * 1024 * 1024)


class WatchSettings(_Section):
    """Watchlists: how often watched channels, playlists and feeds are listed, and per-guild limits."""

    model_config = SettingsConfigDict(env_prefix="WATCH_")

    interval_minutes: float = Field(default=15, gt=0, le=24 * 60)  # a due watch is listed this often
    max_per_guild: int = Field(default=10, ge=1)
    max_runs_per_day: int = Field(default=20, ge=1)  # runs all of a guild's watches may start per 24 h
    max_backoff_minutes: float = Field(default=6 * 60, gt=0)  # failing watches back off up to this
    max_entries: int = Field(default=30, ge=1, le=500)  # newest entries read from each listing


class FlagSettings(_Section):
    """Feature flags: each switches a sequential path for a concurrent one with the same result."""

    model_config = SettingsConfigDict(env_prefix="ENABLE_")

    parallel_analysis: bool = True
    parallel_fact_checking: bool = True
    parallel_memory_ops: bool = True


class ObservabilitySettings(_Section):
    """Logging and metrics."""

    model_config = SettingsConfigDict(env_prefix="")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", validation_alias=AliasChoices("LOG_LEVEL")
    )
    log_json: bool = Field(default=False, validation_alias=AliasChoices("LOG_JSON"))
    metrics_port: int = Field(default=9108, ge=0, le=65535, validation_alias=AliasChoices("METRICS_PORT"))

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        """Log levels are case-insensitive."""
        return value.upper() if isinstance(value, str) else value


_SECTIONS: dict[str, type[_Section]] = {
    "discord": DiscordSettings,
    "database": DatabaseSettings,
    "redis": RedisSettings,
    "worker": WorkerSettings,
    "qdrant": QdrantSettings,
    "llm": LLMSettings,
    "router": RouterSettings,
    "cache": CacheSettings,
    "compression": CompressionSettings,
    "gates": GateSettings,
    "evidence": EvidenceSettings,
    "whisper": WhisperSettings,
    "pipeline": PipelineSettings,
    "flags": FlagSettings,
    "watch": WatchSettings,
    "observability": ObservabilitySettings,
}


class Settings:
    """All sections together; built by `load_settings()`."""

    def __init__(self, **sections: _Section) -> None:
        self.discord: DiscordSettings = sections["discord"]  # type: ignore[assignment]
        self.database: DatabaseSettings = sections["database"]  # type: ignore[assignment]
        self.redis: RedisSettings = sections["redis"]  # type: ignore[assignment]
        self.worker: WorkerSettings = sections["worker"]  # type: ignore[assignment]
        self.qdrant: QdrantSettings = sections["qdrant"]  # type: ignore[assignment]
        self.llm: LLMSettings = sections["llm"]  # type: ignore[assignment]
        self.router: RouterSettings = sections["router"]  # type: ignore[assignment]
        self.cache: CacheSettings = sections["cache"]  # type: ignore[assignment]
        self.compression: CompressionSettings = sections["compression"]  # type: ignore[assignment]
        self.gates: GateSettings = sections["gates"]  # type: ignore[assignment]
        self.evidence: EvidenceSettings = sections["evidence"]  # type: ignore[assignment]
        self.whisper: WhisperSettings = sections["whisper"]  # type: ignore[assignment]
        self.pipeline: PipelineSettings = sections["pipeline"]  # type: ignore[assignment]
        self.flags: FlagSettings = sections["flags"]  # type: ignore[assignment]
        self.watch: WatchSettings = sections["watch"]  # type: ignore[assignment]
        self.observability: ObservabilitySettings = sections["observability"]  # type: ignore[assignment]

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL: the configured one or SQLite in the data dir."""
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.pipeline.data_dir / 'autointel.db').resolve()}"

    def secret_values(self) -> list[str]:
        """Every secret value (tokens, keys, URLs with passwords and the passwords), for log masking."""
        from urllib.parse import urlsplit

        values: list[str] = []
        for section in (getattr(self, name) for name in _SECTIONS):
            for field in type(section).model_fields:
                value = getattr(section, field)
                if isinstance(value, SecretStr) and value.get_secret_value():
                    secret = value.get_secret_value()
                    values.append(secret)
                    password = urlsplit(secret).password if "://" in secret else None
                    if password:
                        values.append(password)
        values += [s.api_key.get_secret_value() for s in self.router.models if s.api_key]
        return [value for value in values if value]

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in _SECTIONS) + ")"


class SettingsError(Exception):
    """Invalid configuration; the message names every bad environment variable."""


def _env_name(section: type[_Section], field: str) -> str:
    """The environment variable a field is read from."""
    info = section.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    prefix = section.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def load_settings(**overrides: dict[str, Any]) -> Settings:
    """Read and validate every section; raise `SettingsError` listing all problems at once.

    `overrides` maps a section name to field values (used by tests and the CLI).
    """
    built: dict[str, _Section] = {}
    problems: list[str] = []
    for name, section in _SECTIONS.items():
        try:
            built[name] = section(**overrides.get(name, {}))
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else getattr(section, "section_field", "?")
                problems.append(f"{_env_name(section, field)}: {err['msg']}")
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))
    return Settings(**built)
