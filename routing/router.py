"""The router: which catalogue model answers a task, learnt from outcomes.

For each task the router filters the catalogue (context length, capabilities, open circuit
breakers, the run's remaining cost budget), then ranks what is left by a Thompson sample:

    score = r × (w_quality·q + w_latency·(fastest / L) + w_cost·(1 − cost / dearest))

where r ~ Beta(successes, failures) is the sampled reliability, L a sampled latency
(log-normal around the observed geometric mean, starting at the catalogue prior) and q the
sampled quality (the catalogue prior updated by quality signals). Models whose sampled
reliability is under `ROUTER_MIN_RELIABILITY`, or that miss the depth tier's quality floor or
latency target, go after the others; `ROUTER_EXPLORATION` sends a share of decisions to a
random eligible model. Weights and thresholds come from settings; every decision is logged
with its reasons and counted. Per-model circuit breakers cool down a model after
`ROUTER_BREAKER_FAILURES` consecutive errors and let one probe through after the cooldown.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from observability.metrics import BREAKER_OPEN
from routing.catalog import catalogue, estimated_cost, output_tokens
from routing.stats import ArmStats, StatsStore
from settings import ModelSpec, Settings

log = logging.getLogger(__name__)

PRIOR_SUCCESSES = 4.0  # Beta(4, 1) prior: a new model is presumed mostly reliable until shown otherwise
PRIOR_FAILURES = 1.0
QUALITY_PRIOR_WEIGHT = 20.0  # the catalogue prior counts as 20 quality signals
LATENCY_PRIOR_SPREAD = 0.5  # log-space standard deviation before any observation
STATS_REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class TaskNeeds:
    """What a task asks of a model: size, structured output, and the tier's soft targets."""

    task: str
    prompt_tokens: int
    capability: str = "json_schema"
    quality_floor: float = 0.0
    latency_target: float = math.inf


@dataclass(frozen=True)
class Choice:
    """One ranked candidate and why it stands where it does."""

    spec: ModelSpec
    score: float
    reasons: str
    cost: float


@dataclass
class Breaker:
    """Consecutive-failure circuit breaker of one model (closed → open → half-open probe)."""

    failures: int = 0
    open_until: float = 0.0
    probing: bool = False

    def allows(self, now: float, cooldown: float) -> bool:
        """Whether a call may go to this model now: always when closed; once open, one probe
        per cooldown (a probe that never reports back is replaced after another cooldown)."""
        if self.open_until == 0.0:
            return True
        if now >= self.open_until:
            self.open_until, self.probing = now + cooldown, True
            return True
        return False


@dataclass
class Router:
    """Ranks catalogue models per task and learns from every call's outcome."""

    settings: Settings
    stats_store: StatsStore | None = None
    clock: Callable[[], float] = time.monotonic
    stats: dict[tuple[str, str], ArmStats] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    loaded_at: float = -math.inf

    def __post_init__(self) -> None:
        self.models = catalogue(self.settings)
        self.rng = random.Random(self.settings.router.seed)
        self._gates: dict[tuple[int, str], asyncio.Semaphore] = {}

    # --- learning ---------------------------------------------------------------------------

    async def refresh(self, *, force: bool = False) -> None:
        """Reload the learnt statistics from the store (what every process has learnt)."""
        if self.stats_store is None or (not force and self.clock() - self.loaded_at < STATS_REFRESH_SECONDS):
            return
        try:
            self.stats = await self.stats_store.load()
        except Exception as exc:  # the store boundary: routing goes on with what it knows
            log.warning("router statistics could not be loaded: %s", exc)
        self.loaded_at = self.clock()

    async def record(self, task: str, spec: ModelSpec, delta: ArmStats, *, transport_error: bool) -> None:
        """Learn from one call: update the arm, the breaker, and the store."""
        self.stats.setdefault((task, spec.name), ArmStats()).add(delta)
        self._breaker_outcome(spec.name, failed=transport_error)
        if self.stats_store is not None:
            try:
                await self.stats_store.add(task, spec.name, delta)
            except Exception as exc:  # the store boundary: learning is best effort
                log.warning("router statistics could not be saved: %s", exc)

    async def learn_quality(self, task: str, model: str, quality: float) -> None:
        """Learn an outside quality signal (0-1) for a model's answer, e.g. an evaluation's verdict."""
        spec = next((s for s in self.models if s.name == model), None)
        if spec is None:
            return
        delta = ArmStats(quality_sum=min(max(quality, 0.0), 1.0), quality_n=1)
        self.stats.setdefault((task, model), ArmStats()).add(delta)
        if self.stats_store is not None:
            try:
                await self.stats_store.add(task, model, delta)
            except Exception as exc:  # the store boundary: learning is best effort
                log.warning("router statistics could not be saved: %s", exc)

    def _breaker_outcome(self, name: str, *, failed: bool) -> None:
        """Count a transport failure, or close the breaker: any answer (even an invalid one)
        shows the model is reachable; invalid answers are the bandit's business."""
        breaker = self.breakers.setdefault(name, Breaker())
        if not failed:
            if breaker.open_until:
                log.info("model %s answered its probe: breaker closed", name)
            self.breakers[name] = Breaker()
            BREAKER_OPEN.labels(model=name).set(0)
            return
        breaker.failures += 1
        if breaker.probing or breaker.failures >= self.settings.router.breaker_failures:
            cooldown = self.settings.router.breaker_cooldown_seconds
            breaker.open_until, breaker.probing = self.clock() + cooldown, False
            BREAKER_OPEN.labels(model=name).set(1)
            log.warning(
                "model %s failed %d times in a row: cooling down %.0f s", name, breaker.failures, cooldown
            )

    def available(self, name: str) -> bool:
        """Whether the model's breaker lets a call through now."""
        cooldown = self.settings.router.breaker_cooldown_seconds
        return self.breakers.setdefault(name, Breaker()).allows(self.clock(), cooldown)

    def cooling(self, name: str) -> bool:
        """Whether the model's breaker is open (without taking the probe)."""
        breaker = self.breakers.get(name)
        return breaker is not None and breaker.open_until > self.clock()

    def gate(self, spec: ModelSpec) -> asyncio.Semaphore:
        """The semaphore bounding concurrent calls to one model (per event loop)."""
        key = (id(asyncio.get_running_loop()), spec.name)
        if key not in self._gates:
            self._gates[key] = asyncio.Semaphore(spec.concurrency)
        return self._gates[key]

    # --- choosing ---------------------------------------------------------------------------

    def rank(self, needs: TaskNeeds, cost_left: float = math.inf) -> tuple[list[Choice], list[str]]:
        """Eligible models best first, and why the others were left out."""
        excluded: list[str] = []
        eligible: list[tuple[ModelSpec, float]] = []
        for spec in self.models:
            answer = output_tokens(spec, self.settings)
            cost = estimated_cost(spec, needs.prompt_tokens, answer)
            if spec.context_tokens < needs.prompt_tokens + answer:
                excluded.append(
                    f"{spec.name}: context {spec.context_tokens} < {needs.prompt_tokens + answer}"
                )
            elif needs.capability not in spec.capabilities:
                excluded.append(f"{spec.name}: no {needs.capability}")
            elif self.cooling(spec.name):
                excluded.append(f"{spec.name}: cooling down after repeated failures")
            elif cost > cost_left + 1e-12:
                excluded.append(f"{spec.name}: ${cost:.4f} over the ${cost_left:.4f} left")
            else:
                eligible.append((spec, cost))
        return self._order(needs, eligible), excluded

    def _order(self, needs: TaskNeeds, eligible: list[tuple[ModelSpec, float]]) -> list[Choice]:
        config = self.settings.router
        samples = [(spec, cost, *self._sample(needs.task, spec)) for spec, cost in eligible]
        if not samples:
            return []
        fastest = min(s[3] for s in samples)
        dearest = max(s[1] for s in samples)
        ranked: list[tuple[bool, float, Choice]] = []
        for spec, cost, reliability, latency, quality in samples:
            value = (
                config.weight_quality * quality
                + config.weight_latency * (fastest / latency)
                + config.weight_cost * (1 - cost / dearest if dearest > 0 else 1.0)
            )
            score = reliability * value
            misses = []
            if reliability < config.min_reliability:
                misses.append(f"reliability {reliability:.2f} < {config.min_reliability:.2f}")
            if quality < needs.quality_floor:
                misses.append(f"quality {quality:.2f} < tier floor {needs.quality_floor:.2f}")
            if latency > needs.latency_target:
                misses.append(f"latency {latency:.1f}s > tier target {needs.latency_target:.0f}s")
            reasons = f"score {score:.3f} (r={reliability:.2f} q={quality:.2f} L={latency:.2f}s ${cost:.4f})"
            if misses:
                reasons += "; demoted: " + ", ".join(misses)
            ranked.append((bool(misses), -score, Choice(spec, score, reasons, cost)))
        ranked.sort(key=lambda item: (item[0], item[1]))
        choices = [choice for _, _, choice in ranked]
        if len(choices) > 1 and self.rng.random() < config.exploration:
            pick = choices.pop(self.rng.randrange(len(choices)))
            choices.insert(0, Choice(pick.spec, pick.score, "explore; " + pick.reasons, pick.cost))
        return choices

    def _sample(self, task: str, spec: ModelSpec) -> tuple[float, float, float]:
        """Thompson draws of (reliability, latency seconds, quality) for one arm."""
        arm = self.stats.get((task, spec.name), ArmStats())
        reliability = self.rng.betavariate(PRIOR_SUCCESSES + arm.successes, PRIOR_FAILURES + arm.failures)
        n = arm.latency_n
        mean = (math.log(spec.latency_seconds) + arm.latency_log_sum) / (1 + n)
        spread = LATENCY_PRIOR_SPREAD
        if n >= 2:
            variance = max(arm.latency_log_sq / n - (arm.latency_log_sum / n) ** 2, 0.0)
            spread = max(math.sqrt(variance), 0.05)
        latency = math.exp(self.rng.gauss(mean, spread / math.sqrt(1 + n)))
        alpha = spec.quality * QUALITY_PRIOR_WEIGHT + arm.quality_sum + 1e-6
        beta = (1 - spec.quality) * QUALITY_PRIOR_WEIGHT + (arm.quality_n - arm.quality_sum) + 1e-6
        quality = self.rng.betavariate(alpha, beta)
        return reliability, latency, quality
