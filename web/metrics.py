"""Prometheus text exposition of request counts, latencies and connected sockets.

A handful of counters do not justify a client library; the text format is simple and stable.
Requests are labelled by route pattern, not by raw path, so `/files/<sha>` does not create one
series per file.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import defaultdict
from dataclasses import dataclass, field

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self.sockets: dict[str, int] = defaultdict(int)
        self.socket_events: dict[tuple[str, str, str], int] = defaultdict(int)
        # Event-loop lag: how late a timer fires. Anything blocking the loop (a mesh decoded
        # in a handler, say) shows up here as lag every tablet feels.
        self.loop_lag_max_s = 0.0
        self.loop_lag_last_s = 0.0

    async def watch_loop(self, interval_s: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(interval_s)
            lag = max(0.0, loop.time() - started - interval_s)
            self.loop_lag_last_s = lag
            self.loop_lag_max_s = max(self.loop_lag_max_s, lag)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        self.latency[(method, route)].observe(seconds)

    def render(self) -> str:
        lines = [
            "# HELP smartlib_http_requests_total HTTP requests by route and status.",
            "# TYPE smartlib_http_requests_total counter",
        ]
        for (method, route, status), n in sorted(self.requests.items()):
            lines.append(
                f'smartlib_http_requests_total{{method="{method}",route="{_esc(route)}",'
                f'status="{status}"}} {n}'
            )
        lines += [
            "# HELP smartlib_http_request_seconds HTTP request latency.",
            "# TYPE smartlib_http_request_seconds histogram",
        ]
        for (method, route), hist in sorted(self.latency.items()):
            labels = f'method="{method}",route="{_esc(route)}"'
            cumulative = 0
            for bound, count in zip((*BUCKETS, "+Inf"), hist.counts, strict=True):
                cumulative += count
                lines.append(
                    f'smartlib_http_request_seconds_bucket{{{labels},le="{bound}"}} {cumulative}'
                )
            lines.append(f"smartlib_http_request_seconds_sum{{{labels}}} {hist.total:.6f}")
            lines.append(f"smartlib_http_request_seconds_count{{{labels}}} {hist.n}")
        lines += [
            "# HELP smartlib_socketio_connected Connected Socket.IO clients by namespace.",
            "# TYPE smartlib_socketio_connected gauge",
        ]
        for namespace, n in sorted(self.sockets.items()):
            lines.append(f'smartlib_socketio_connected{{namespace="{namespace}"}} {n}')
        lines += [
            "# HELP smartlib_socketio_events_total Socket.IO events by outcome.",
            "# TYPE smartlib_socketio_events_total counter",
        ]
        for (namespace, name, outcome), n in sorted(self.socket_events.items()):
            lines.append(
                f'smartlib_socketio_events_total{{namespace="{namespace}",'
                f'event="{_esc(name)}",outcome="{outcome}"}} {n}'
            )
        lines += [
            "# HELP smartlib_event_loop_lag_seconds How late the event loop ran a 50 ms timer.",
            "# TYPE smartlib_event_loop_lag_seconds gauge",
            f'smartlib_event_loop_lag_seconds{{stat="last"}} {self.loop_lag_last_s:.6f}',
            f'smartlib_event_loop_lag_seconds{{stat="max"}} {self.loop_lag_max_s:.6f}',
        ]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
