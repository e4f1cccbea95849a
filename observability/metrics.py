"""Every Prometheus metric of AutoIntel, declared once; other modules import and label them."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
    "Switches to the next delivery route, by the route left and the reason.",
    ["from_route", "reason"],
)
DELIVERY_FAILURES = Counter(
    "autointel_delivery_failures_total",
    "Deliveries for which every route failed.",
    ["kind"],
)
