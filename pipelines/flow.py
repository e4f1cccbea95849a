"""The flow as data: the ordered stages each depth tier runs.

`quick` skips the fact-check; the other tiers run every stage (what each stage does at a
tier — which analysis tasks, how many claims are checked, graph memory — comes from
crews/config/tiers.yaml). Bump `PIPELINE_VERSION` (pipelines.models) whenever a stage's
output changes meaning, so that stored results of older versions are no longer reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.acquire import AcquireInputs, acquire, media_still_present
from pipelines.analyze import AnalyzeInputs, analyze
from pipelines.brief import BriefInputs, brief
from pipelines.models import (
    PIPELINE_VERSION,
    Analysis,
    Briefing,
    Depth,
    Media,
    MemoryReport,
    Transcript,
    Verification,
)
from pipelines.remember import RememberInputs, remember
from pipelines.stage import Stage
from pipelines.transcribe import TranscribeInputs, transcribe
from pipelines.verify import VerifyInputs, verify


def _complete(output: Analysis | Verification | MemoryReport) -> bool:
    """A degraded result (some item failed) is recomputed rather than reused or resumed."""
    return not output.failures


def _not_degraded(output: Briefing) -> bool:
    return not output.degraded


ACQUIRE: Stage[AcquireInputs, Media] = Stage(
    name="acquire", run=acquire, inputs=AcquireInputs, output=Media, still_valid=media_still_present
)
TRANSCRIBE: Stage[TranscribeInputs, Transcript] = Stage(
    name="transcribe", run=transcribe, inputs=TranscribeInputs, output=Transcript
)
ANALYZE: Stage[AnalyzeInputs, Analysis] = Stage(
    name="analyze",
    run=analyze,
    inputs=AnalyzeInputs,
    output=Analysis,
    depth_sensitive=True,
    still_valid=_complete,
)
VERIFY: Stage[VerifyInputs, Verification] = Stage(
    name="verify",
    run=verify,
    inputs=VerifyInputs,
    output=Verification,
    depth_sensitive=True,
    tenant_sensitive=True,
    still_valid=_complete,
)
REMEMBER: Stage[RememberInputs, MemoryReport] = Stage(
    name="remember",
    run=remember,
    inputs=RememberInputs,
    output=MemoryReport,
    depth_sensitive=True,
    tenant_sensitive=True,
    still_valid=_complete,
)
BRIEF: Stage[BriefInputs, Briefing] = Stage(
    name="brief",
    run=brief,
    inputs=BriefInputs,
    output=Briefing,
    depth_sensitive=True,
    tenant_sensitive=True,
    still_valid=_not_degraded,
)

Flows = Mapping[Depth, Sequence[Stage[Any, Any]]]

__all__ = ["FLOWS", "PIPELINE_VERSION", "Flows"]

_CHECKED = (ACQUIRE, TRANSCRIBE, ANALYZE, VERIFY, REMEMBER, BRIEF)
FLOWS: Flows = {
    Depth.QUICK: (ACQUIRE, TRANSCRIBE, ANALYZE, REMEMBER, BRIEF),
    Depth.STANDARD: _CHECKED,
    Depth.DEEP: _CHECKED,
    Depth.COMPREHENSIVE: _CHECKED,
}
