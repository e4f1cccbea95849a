"""The verification stage: evidence retrieval and a verdict for each selected claim.

The tier decides how many of the ranked claims are checked (all of them at
`comprehensive`). Evidence comes from the sources in `EVIDENCE_SOURCES` (evidence.gather):
long-term memory — the shared reference corpus and this namespace's earlier analyses and
cited pages (never the current run) — and the outside providers (SearxNG, Wikipedia, a ZIM
archive). The judge sees it numbered, delimited and length-capped, as data. A claim with no relevant
evidence is "not_enough_evidence" without a model call; otherwise the fact-check task
judges it from the numbered evidence, and the evidence-consistency judge (crews.judge)
checks that verdict against the evidence's figures — or, with only the embedded model,
gives the verdict itself. With `ENABLE_PARALLEL_FACT_CHECKING` claims are
checked concurrently, at most `LLM_CONCURRENCY` at once; otherwise one after another.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from crews.builder import run_all, run_task, task_text, tier
from crews.gates import verdict_problems
from crews.judge import Ruling, decide, overrule
from crews.schemas import VerdictOutput
from evidence.gather import RunEvidence
from pipelines.errors import MemoryRequiredError
from pipelines.models import Analysis, CheckedClaim, Claim, Evidence, RunRequest, TaskFailure, Verification
from pipelines.stage import Resources, StageDeps
from routing.budget import Budget, TaskFailed
from routing.catalog import embedded_only, max_concurrency
from routing.dispatch import InvalidAnswer
from settings import Settings

MIN_EVIDENCE_SCORE = 0.3
MAX_QUOTED_CHARS = 600
EVIDENCE_CLAIMS_IN_FLIGHT = 4
REFERENCE_HITS = 4
EARLIER_HITS = 2


class VerifyInputs(BaseModel):
    """Verification needs the request (depth, namespace) and the analysis."""

    request: RunRequest
    analyze: Analysis


def memory_of(resources: Resources) -> Any:
    """The opened vector memory, or a clear error when the entry point did not open it."""
    if resources.memory is None:
        raise MemoryRequiredError("long-term memory is not available to this process")
    return resources.memory


async def retrieve_evidence(
    resources: Resources, namespace: str, claim: str, exclude_run: str | None
) -> list[Evidence]:
    """The most relevant reference passages and earlier findings for a claim, best first."""
    from memory.vector import REFERENCE_NAMESPACE

    memory = memory_of(resources)
    hits = await memory.search(REFERENCE_NAMESPACE, claim, limit=REFERENCE_HITS)
    if namespace != REFERENCE_NAMESPACE:
        hits += await memory.search(
            namespace,
            claim,
            limit=EARLIER_HITS,
            kinds=["verdict", "summary", "evidence"],
            exclude_run=exclude_run,
        )
    hits = sorted((h for h in hits if h.score >= MIN_EVIDENCE_SCORE), key=lambda h: -h.score)
    return [
        Evidence(
            number=i + 1,
            text=h.item.text,
            source=h.item.source,
            kind=h.item.kind,
            run_id=h.item.run_id,
            score=round(h.score, 4),
            url=h.item.extra.get("url"),
            title=h.item.extra.get("title"),
            site=h.item.extra.get("site"),
            published=h.item.extra.get("published"),
            provider="memory",
        )
        for i, h in enumerate(hits)
    ]


async def check_claim(
    resources: Resources,
    namespace: str,
    claim: Claim,
    budget: Budget,
    exclude_run: str | None,
    sources: RunEvidence | None = None,
) -> CheckedClaim:
    """Retrieve evidence and judge one claim; a failed judgement is recorded, not raised.

    With a capable model, its verdict must be consistent (crews.gates) and then passes the
    evidence-consistency judge (crews.judge), which vetoes a "supported" that the evidence's
    figures contradict. With only the embedded model the judge alone decides.
    """
    gates = resources.settings.gates
    if sources is None:
        evidence = await retrieve_evidence(resources, namespace, claim.text, exclude_run)
    else:
        evidence = await sources.for_claim(claim, namespace, exclude_run, budget)
    if not evidence:
        return CheckedClaim(
            claim=claim,
            verdict="not_enough_evidence",
            confidence=0.0,
            rationale="No relevant evidence was found in the sources searched.",
        )
    if embedded_only(resources.settings):
        return _checked(claim, evidence, decide(claim.text, evidence, gates), None)
    description = task_text("fact_check", claim=claim.text, evidence=evidence_listing(evidence))
    rejections: list[str] = []

    def consistent(answer: VerdictOutput) -> list[str]:
        return verdict_problems(
            answer.verdict, answer.confidence, answer.rationale, answer.evidence_used, len(evidence)
        )

    def heard(_model: str, error: InvalidAnswer) -> None:
        rejections.append(str(error))

    try:
        answer, model = await run_task(
            "fact_check", resources, description, VerdictOutput, budget, check=consistent, rejected=heard
        )
    except TaskFailed as failed:
        if not rejections:
            return CheckedClaim(claim=claim, evidence=evidence, failure=failed.reason)
        reason = f"No usable verdict: the model's answers were inconsistent ({rejections[-1][:300]})."
        return CheckedClaim(
            claim=claim, verdict="not_enough_evidence", confidence=0.0, rationale=reason, evidence=evidence
        )
    said = Ruling(answer.verdict, answer.confidence, answer.rationale, list(answer.evidence_used))
    return _checked(claim, evidence, overrule(claim.text, evidence, gates, said), model)


def evidence_listing(evidence: list[Evidence]) -> str:
    """The numbered evidence for the judge: each item delimited and length-capped (it is data)."""
    blocks = []
    for item in evidence:
        origin = " — ".join(x for x in (item.title or item.source, item.site, item.published) if x)
        quoted = " ".join(item.text.split())[:MAX_QUOTED_CHARS].replace(">>>", "> > >")
        blocks.append(f"[{item.number}]" + (f" ({origin})" if origin else "") + f"\n<<<\n{quoted}\n>>>")
    return "\n".join(blocks)


def claims_in_flight(settings: Settings) -> int:
    """How many claims are checked at once: evidence gathering waits on the network, so more than
    the model slots (each model still takes at most its own concurrency, routing.router.gate)."""
    return max(max_concurrency(settings), EVIDENCE_CLAIMS_IN_FLIGHT)


def _checked(claim: Claim, evidence: list[Evidence], ruling: Ruling, model: str | None) -> CheckedClaim:
    cited = [e for e in evidence if e.number in set(ruling.cited)] or evidence
    return CheckedClaim(
        claim=claim,
        verdict=ruling.verdict,
        confidence=ruling.confidence,
        rationale=ruling.rationale,
        evidence=cited,
        model=model,
    )


async def verify(deps: StageDeps, inputs: VerifyInputs) -> Verification:
    """Stage: check the tier's share of the claims."""
    settings = deps.settings
    plan = tier(inputs.request.depth)
    claims = inputs.analyze.claims
    selected = claims if plan.check_claims < 0 else claims[: plan.check_claims]
    budget = plan.budget(inputs.analyze.tokens_spent, inputs.analyze.cost_usd)
    namespace = inputs.request.namespace

    async with RunEvidence.open(deps.resources, plan) as sources:

        def job(claim: Claim) -> Any:
            return lambda: check_claim(deps.resources, namespace, claim, budget, deps.run_id, sources)

        checked = await run_all(
            [job(claim) for claim in selected],
            parallel=settings.flags.parallel_fact_checking,
            limit=claims_in_flight(settings),
        )
    failures = [
        TaskFailure(task="fact_check", reason=f"claim {c.claim.id}: {c.failure}")
        for c in checked
        if c.failure
    ]
    return Verification(
        checked=checked,
        unchecked=len(claims) - len(selected),
        failures=failures,
        sources=sources.attempts,
        notes=sources.notes(),
        tokens_spent=budget.spent,
        cost_usd=round(budget.cost, 6),
        model=budget.model_names(),
    )
