"""Local HTTP servers that behave like each job service, for the demo, the tests and benchmarks.

One package per kind (`bsub`, `ecotaxa`, `leia`, `dsp_ingest`), the same rooms in each: `routes`
(the HTTP side), `state` (jobs and their state machine), `seed` (the seeded data), and its
`build(settings) -> Emulator` in `__init__`. Shared by all: `base` (settings, the simulated clock,
`SimState`, `Emulator`), `scheduler` (the simulated workers' timed events), `faults` (switchable
failures and their middleware); `runner` serves them on loopback.
"""
