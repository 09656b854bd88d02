"""`QuietLinuxDriver`: Textual's terminal driver, without waking ten times a second for no key.

Textual's input thread waits for the terminal with a 0.1 s timeout, so that a lone Escape is
reported once no sequence follows it. That wakes the process ten times a second forever: on an
idle dashboard, a sixth of its CPU. This driver waits without a timeout while no such sequence is
pending, and exactly until the parser's deadline while one is. Leaving (or suspending) the app
wakes the thread through a pipe, so it ends at once as before.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

TIMEOUT_CAP = 0.1
"""Longest wait while a sequence is pending (Textual's own interval)."""


class _WakingEvent(threading.Event):
    """An event whose `set` also wakes a thread waiting on the read end of a pipe (`wake` is its
    write end, -1 while there is none)."""

    def __init__(self) -> None:
        super().__init__()
        self.wake = -1

    def set(self) -> None:
        super().set()
        # a full or closed pipe: the thread is awake already, or gone
        with contextlib.suppress(OSError):
            os.write(self.wake, b"!")


class QuietLinuxDriver(LinuxDriver):
    """See the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read = -1
        self._waking = _WakingEvent()
        self.exit_event = self._waking
        self.wakeups = 0
        """How often the input thread woke (tests check it sleeps while nothing happens)."""

    def start_application_mode(self) -> None:
        # A pipe for each time in application mode: suspending the app (Ctrl+Z) ends it with
        # `close`, and resuming starts it again, with a new input thread.
        self._wake_read, self._waking.wake = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._waking.wake, False)
        super().start_application_mode()  # type: ignore[no-untyped-call]

    def close(self) -> None:
        super().close()
        for fd in (self._wake_read, self._waking.wake):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_read = self._waking.wake = -1

    def run_input_thread(self) -> None:
        """Textual's input loop (`LinuxDriver.run_input_thread`), waiting as the module says."""
        selector = selectors.SelectSelector()
        fileno = self.fileno
        selector.register(fileno, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")().decode

        def timeout() -> float | None:
            deadline: float | None = parser._timeout_time
            if deadline is None:
                return None
            return min(TIMEOUT_CAP, max(0.0, deadline - get_time()))

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for key, mask in events:
                if key.fd == self._wake_read:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_read, 512)
                    continue
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final)
                    if not data:
                        break  # stdin is a closed pipe
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(timeout()))
                self.wakeups += 1
            selector.unregister(fileno)
            process(selector.select(0), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
