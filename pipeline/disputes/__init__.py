"""Disputes: claims about the same slot of the same event that cannot all be true (pure core, no I/O).

``DisputeDetector.update(state, claim, now)`` is the whole interface a driver needs; see ``detector`` for the
state layout and ``rules`` for what counts as a conflict.
"""

from pipeline.disputes.detector import DisputeDetector
from pipeline.disputes.frames import Frame, NumFact, frame_of
from pipeline.disputes.records import ChangeKind, DisputeChange, PositionChange, dispute_from_json
from pipeline.disputes.rules import SlotMatch, compare

__all__ = [
    "ChangeKind",
    "DisputeChange",
    "DisputeDetector",
    "Frame",
    "NumFact",
    "PositionChange",
    "SlotMatch",
    "compare",
    "dispute_from_json",
    "frame_of",
]
