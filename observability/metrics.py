"""Every Prometheus metric of AutoIntel, declared once; other modules import and label them.

Each process (the bot, every worker) serves its own registry on METRICS_PORT; Prometheus
scrapes each replica, so no multiprocess mode is needed.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

# --- runs and stages -----------------------------------------------------------------------
RUNS_STARTED = Counter("autointel_runs_started_total", "Runs that started executing, by depth.", ["depth"])
RUNS_FINISHED = Counter(
    "autointel_runs_finished_total",
    "Runs that stopped, by depth and outcome (succeeded, failed, cancelled, interrupted).",
    ["depth", "outcome"],
)
RUN_SECONDS = Histogram(
    "autointel_run_duration_seconds",
    "Time a succeeded run's execution took, by depth (a resumed run counts from its resumption).",
    ["depth"],
    buckets=(60, 120, 300, 600, 900, 1200, 1800, 2400, 3600, 4800, 7200, 10800, 14400),
)
STAGE_SECONDS = Histogram(
    "autointel_stage_duration_seconds",
    "Time spent in a stage, by stage and outcome (succeeded, failed, reused).",
    ["stage", "outcome"],
    buckets=_SECONDS,
)
QUEUE_DEPTH = Gauge("autointel_queue_depth", "Runs waiting in this process's queue view.", ["queue"])
QUEUE_WAIT_SECONDS = Histogram(
    "autointel_queue_wait_seconds", "Time from submission to the start of execution.", buckets=_SECONDS
)
TRANSCRIPTION_RTF = Histogram(
    "autointel_transcription_realtime_factor",
    "Seconds of audio transcribed per second of processing.",
    buckets=(1, 2, 5, 10, 15, 20, 30, 50, 100, 200),
)

# --- models --------------------------------------------------------------------------------
LLM_REQUESTS = Counter(
    "autointel_llm_requests_total",
    "Model calls (one crew task attempt each), by model, task and outcome (ok, invalid, error).",
    ["model", "task", "outcome"],
)
LLM_SECONDS = Histogram(
    "autointel_llm_request_seconds",
    "Duration of a model call, by model and task.",
    ["model", "task"],
    buckets=_SECONDS,
)
LLM_TOKENS = Counter(
    "autointel_llm_tokens_total",
    "Tokens used, by model, task and kind (prompt, completion; estimated when the server reports none).",
    ["model", "task", "kind"],
)

LLM_COST = Counter(
    "autointel_llm_cost_usd_total",
    "Estimated spend on model calls in US dollars (catalogue prices; 0 for local models).",
    ["model", "task"],
)
ROUTER_DECISIONS = Counter(
    "autointel_router_decisions_total",
    "Model choices by task, model and reason (best, explore, fallback, cached).",
    ["task", "model", "reason"],
)
ROUTER_FALLBACKS = Counter(
    "autointel_router_fallbacks_total",
    "Calls retried on another model, by task, failed model and cause (error, timeout, invalid).",
    ["task", "model", "cause"],
)
BREAKER_OPEN = Gauge(
    "autointel_model_breaker_open", "1 while a model's circuit breaker is open (cooling down).", ["model"]
)
CACHE_LOOKUPS = Counter(
    "autointel_cache_lookups_total",
    "Cache lookups by cache (response, transcript, evidence) and result (hit, miss, shared).",
    ["cache", "result"],
)
COMPRESSIONS = Counter(
    "autointel_compressions_total",
    "Prompt compressions by outcome (compressed, skipped, unavailable, failed).",
    ["outcome"],
)
COMPRESSION_RATIO = Histogram(
    "autointel_compression_ratio",
    "Original tokens over compressed tokens of a compressed transcript.",
    buckets=(1, 1.25, 1.5, 2, 2.5, 3, 4, 6, 10),
)

GATE_ITEMS = Counter(
    "autointel_gate_items_total",
    "Analysis items through the quality gates, by task and outcome (kept, ungrounded, duplicate).",
    ["task", "outcome"],
)
GATE_REJECTIONS = Counter(
    "autointel_gate_rejections_total",
    "Model answers rejected by the quality gates (placeholders, schema echoes, inconsistent verdicts).",
    ["task", "model"],
)

# --- evidence ------------------------------------------------------------------------------
EVIDENCE_SEARCHES = Counter(
    "autointel_evidence_searches_total",
    "Evidence searches by provider (searxng, wikipedia, zim) and outcome (ok, empty, cached, failed).",
    ["provider", "outcome"],
)
EVIDENCE_FETCHES = Counter(
    "autointel_evidence_fetches_total",
    "Evidence page fetches by outcome (ok, blocked, robots, timeout, too_large, unsupported, http, ...).",
    ["outcome"],
)
EVIDENCE_FETCH_SECONDS = Histogram(
    "autointel_evidence_fetch_seconds", "Duration of an evidence page fetch.", buckets=_SECONDS
)
EVIDENCE_PASSAGES = Counter(
    "autointel_evidence_passages_total", "Passages of fetched pages ranked against claims."
)
EVIDENCE_RERANKS = Counter(
    "autointel_evidence_reranks_total",
    "Passage pools sent to the cross-encoder reranker (RERANKER_BASE_URL), by outcome (ok, failed).",
    ["outcome"],
)

# --- memory --------------------------------------------------------------------------------
MEMORY_OPERATIONS = Counter(
    "autointel_memory_operations_total",
    "Vector memory operations, by operation (upsert, search, delete) and outcome (ok, error).",
    ["operation", "outcome"],
)
MEMORY_SECONDS = Histogram(
    "autointel_memory_operation_seconds",
    "Duration of a vector memory operation.",
    ["operation"],
    buckets=_SECONDS,
)

# --- Discord -------------------------------------------------------------------------------
COMMANDS = Counter(
    "autointel_commands_total",
    "Slash commands handled, by command and outcome (ok, refused, error).",
    ["command", "outcome"],
)
ACK_SECONDS = Histogram(
    "autointel_interaction_ack_seconds",
    "Time from receiving an interaction to acknowledging it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0),
)
DELIVERIES = Counter(
    "autointel_deliveries_total",
    "Messages posted for runs, by kind (status, briefing) and route (interaction, webhook, channel).",
    ["kind", "route"],
)
DELIVERY_FALLBACKS = Counter(
    "autointel_delivery_fallbacks_total",
    "Switches to the next delivery route, by the route left and the reason (token_age, token_refused, ...).",
    ["from_route", "reason"],
)
DELIVERY_FAILURES = Counter(
    "autointel_delivery_failures_total",
    "Deliveries for which every route failed.",
    ["kind"],
)
# Exported at 0 from the start, so that increase() (and the alert on it) sees the first failure.
DELIVERY_FAILURES.labels(kind="briefing")

# --- watchlists ----------------------------------------------------------------------------
WATCH_POLLS = Counter(
    "autointel_watch_polls_total",
    "Polls of watched channels, playlists and feeds, by outcome (ok, unchanged, failed).",
    ["outcome"],
)
WATCH_ENTRIES = Counter(
    "autointel_watch_entries_total", "New entries found on watched sources (each becomes one run)."
)
WATCH_RUNS = Counter("autointel_watch_runs_started_total", "Runs started by watches, by depth.", ["depth"])
