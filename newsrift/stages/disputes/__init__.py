"""Disputes: claims about the same slot of the same event that cannot all be true (pure core, no I/O).

``DisputeDetector.update(state, claim, now)`` over an event's ``EventDisputes`` is what a driver needs for claims
(``state`` has the state and its JSON codec, ``rules`` what counts as a conflict); ``moves`` moves claims and
disputes between events when a settle regroups them. The records the stage emits and hands on (``DisputeChange``,
``DisputeRecord``, ``Handover``, ...) are in ``newsrift.records``.
"""

from newsrift.stages.disputes.detector import DisputeDetector
from newsrift.stages.disputes.frames import Frame, NumFact, frame_of
from newsrift.stages.disputes.rules import SlotMatch, compare
from newsrift.stages.disputes.state import EventDisputes

__all__ = [
    "DisputeDetector",
    "EventDisputes",
    "Frame",
    "NumFact",
    "SlotMatch",
    "compare",
    "frame_of",
]
