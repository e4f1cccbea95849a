"""What one run may spend on models, and the error a task gives up with.

`Budget` is shared by every task of a run (analysis, then verification with what is left):
estimated tokens and estimated US dollars at catalogue prices, both bounded per depth tier
(crews/config/tiers.yaml). It also remembers which models answered, so the stored results
and the briefing can say so.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field


class TaskFailed(Exception):
    """A task gave no usable answer after repair and fallback (or a budget ran out)."""

    def __init__(self, task: str, reason: str) -> None:
        super().__init__(f"{task}: {reason}")
        self.task = task
        self.reason = reason


def estimate_tokens(text: str) -> int:
    """A conservative token estimate for English text (about 3.5 characters per token)."""
    return int(len(text) / 3.5) + 1


@dataclass
class Budget:
    """Tokens and dollars a run may still spend, and its tier's model targets; thread-safe.

    `quality_floor` and `latency_target` are the depth tier's soft requirements: the router
    ranks models that miss them after those that meet them.
    """

    limit: int
    cost_limit: float = math.inf
    quality_floor: float = 0.0
    latency_target: float = math.inf
    spent: int = 0
    cost: float = 0.0
    models: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cost_left(self) -> float:
        """Dollars still available."""
        return max(self.cost_limit - self.cost, 0.0)

    def reserve(self, task: str, tokens: int, cost: float = 0.0) -> None:
        """Count a call against the budget or raise `TaskFailed` when it does not fit."""
        with self._lock:
            if self.spent + tokens > self.limit:
                raise TaskFailed(task, f"skipped: the token budget of this depth ({self.limit}) is spent")
            if cost > 0 and self.cost + cost > self.cost_limit + 1e-12:
                raise TaskFailed(
                    task, f"skipped: the cost budget of this depth (${self.cost_limit:.4f}) is spent"
                )
            self.spent += tokens
            self.cost += cost

    def answered_by(self, model: str) -> None:
        """Note that `model` answered a task of this run."""
        with self._lock:
            self.models.add(model)

    def model_names(self) -> str | None:
        """The models that answered, comma-separated (None when no call was made)."""
        return ", ".join(sorted(self.models)) or None
