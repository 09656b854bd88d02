"""What cleaning server text costs a poll: `jobtui.core.text.suspect` scans every answer before
it is parsed (the only cost on an ordinary answer), against parsing the same 1,000-job bsub.io
list (`parse_job_list`, as every poll does). For context, the parse of a hostile list (a control
character in every job), which takes the cleaning path (decode, clean every string, validate).
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.common import Row, at_most, median, timed

SHARE_TARGET = 5.0
"""Cleaning may cost at most this share (%) of parsing an ordinary 1,000-job poll."""


def run_clean(quick: bool) -> list[Row]:
    from benchmarks.bench_parse import list_body
    from jobtui.core.text import suspect
    from jobtui.services.bsub.wire import parse_job_list

    count = 1000
    repeat = 20 if quick else 400
    body = list_body(count)
    data = json.loads(body)
    for job in data["data"]["jobs"]:
        job["error_message"] = "\x1b[2Jcleared \u202e"
    hostile = json.dumps(data, ensure_ascii=False).encode()

    def parse() -> Any:
        return parse_job_list("bsub.io", body)

    def scan() -> bool:
        return suspect(body)

    def parse_hostile() -> Any:
        return parse_job_list("bsub.io", hostile)

    assert not scan() and suspect(hostile)
    parse(), parse_hostile()  # warm up (schemas, caches)
    parse_s: list[float] = []
    scan_s: list[float] = []
    for _ in range(repeat):
        parse_s.append(timed(parse))
        # The scan takes microseconds: time a hundred in a row, report one.
        scan_s.append(timed(lambda: [scan() for _ in range(100)]) / 100)
    hostile_s = [timed(parse_hostile) for _ in range(max(3, repeat // 20))]
    parsed, scanned, dirty = median(parse_s), median(scan_s), median(hostile_s)
    share = scanned / parsed * 100
    size = f"{len(body) / 1e6:.2f} MB"
    return [
        Row(
            figure=f"clean a {count:,}-job bsub.io poll ({size}): scan before parsing",
            unit="ms",
            jobtui=scanned * 1000,
            reference=parsed * 1000,
            reference_name="parse the poll",
            target="",
            passed=None,
            runs=repeat,
            samples=[s * 1000 for s in scan_s[:20]],
        ),
        Row(
            figure="  cleaning's share of the parse",
            unit="%",
            jobtui=share,
            reference=SHARE_TARGET,
            reference_name="target",
            target=f"<= {SHARE_TARGET:.0f} %",
            passed=at_most(share, SHARE_TARGET),
            runs=repeat,
        ),
        Row(
            figure=f"parse a hostile {count:,}-job poll (a control in every job: cleaned whole)",
            unit="ms",
            jobtui=dirty * 1000,
            reference=parsed * 1000,
            reference_name="an ordinary poll",
            target="",
            passed=None,
            runs=len(hostile_s),
            samples=[s * 1000 for s in hostile_s],
        ),
    ]
