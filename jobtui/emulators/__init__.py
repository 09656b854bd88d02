"""Local HTTP servers that behave like each job service, for the demo, the tests and benchmarks.

Each emulator module exposes `build(settings) -> Emulator`; `runner` serves them on loopback.
"""
