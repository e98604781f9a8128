"""Latency metrics of the crop path, from the header's hop times (metrics only, never stored)."""

from __future__ import annotations

from typing import Any

from common.protocol import Header

#: Latency observations outside [0, this] come from a sender's wrong or forged clock: not observed
#: (counted ``latency_implausible``), so one header cannot skew the percentiles.
MAX_PLAUSIBLE_LATENCY_MS = 3_600_000


def observe_latency(stats: Any, name: str, start_ms: int, end_ms: int) -> None:
    """A latency between two header times, observed only when plausible."""
    latency = end_ms - start_ms
    if 0 <= latency <= MAX_PLAUSIBLE_LATENCY_MS:
        stats.observe(name, latency)
    else:
        stats.inc("latency_implausible")


def observe_pipeline(stats: Any, header: Header) -> None:
    """capture -> recorded and cloud received -> recorded of a recorded crop."""
    ts = header.ts
    if "captured" in ts and "recorded" in ts:
        observe_latency(stats, "latency_captured_to_recorded_ms", ts["captured"], ts["recorded"])
    if "cloud_received" in ts and "recorded" in ts:
        observe_latency(stats, "latency_cloud_ms", ts["cloud_received"], ts["recorded"])
