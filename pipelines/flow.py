"""The flow as data: the ordered stages each depth tier runs.

Later stages (analyze, verify, remember, brief) append to these lists; the runner only loops.
Bump `PIPELINE_VERSION` whenever a stage's output changes meaning, so that stored results
of older versions are no longer reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.acquire import AcquireInputs, acquire, media_still_present
from pipelines.models import Depth, Media, Transcript
from pipelines.stage import Stage
from pipelines.transcribe import TranscribeInputs, transcribe

PIPELINE_VERSION = "1"

ACQUIRE: Stage[AcquireInputs, Media] = Stage(
    name="acquire", run=acquire, inputs=AcquireInputs, output=Media, still_valid=media_still_present
)
TRANSCRIBE: Stage[TranscribeInputs, Transcript] = Stage(
    name="transcribe", run=transcribe, inputs=TranscribeInputs, output=Transcript
)

Flows = Mapping[Depth, Sequence[Stage[Any, Any]]]

FLOWS: Flows = {
    Depth.QUICK: (ACQUIRE, TRANSCRIBE),
    Depth.STANDARD: (ACQUIRE, TRANSCRIBE),
    Depth.DEEP: (ACQUIRE, TRANSCRIBE),
    Depth.COMPREHENSIVE: (ACQUIRE, TRANSCRIBE),
}
