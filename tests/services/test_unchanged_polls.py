"""A poll whose answers are the very same as the last poll's (a service where nothing changed)
costs no conversion and no comparison: the service hands out the very same list of jobs, which
the monitor takes as an empty delta. A change on the server gives a new list, and the delta
names the job that changed."""

from __future__ import annotations

from jobtui.core.models import Action, Job
from jobtui.core.polling import ServiceMonitor
from jobtui.core.service import Service
from jobtui.emulators.leia.state import LeiaState
from jobtui.services.bsub.service import BsubService
from jobtui.services.ecotaxa.service import EcoTaxaService
from jobtui.services.leia.service import LeiaService
from tests.conftest import EmulatorFactory
from tests.services import bsub_support, ecotaxa_support


async def polled_twice(service: Service) -> tuple[ServiceMonitor, list[Job]]:
    """Poll through a monitor twice with nothing changing; the list of the first poll."""
    monitor = ServiceMonitor(service)
    first = await service.poll()
    monitor_first = await monitor.poll_once()
    assert monitor_first.delta.added
    second = await service.poll()
    assert second.jobs is first.jobs, "an unchanged answer gives the very same list"
    snapshot = monitor.snapshot
    outcome = await monitor.poll_once()
    assert not (outcome.delta.added or outcome.delta.changed or outcome.delta.removed)
    assert monitor.snapshot is snapshot
    return monitor, first.jobs


async def changed_after(monitor: ServiceMonitor, before: list[Job], job_id: str) -> None:
    """The next poll has a new list, and the delta names `job_id` as changed."""
    again = await monitor.service.poll()
    assert again.jobs is not before
    outcome = await monitor.poll_once()
    assert [job.id for job in outcome.delta.changed] == [job_id]
    assert monitor.snapshot[job_id].raw_state != next(j for j in before if j.id == job_id).raw_state


async def test_bsub_unchanged_answers_give_the_same_jobs(
    emulator: EmulatorFactory, services: list[Service]
) -> None:
    # Over 100 jobs: the list is cut, and each poll also lists every unfinished state.
    running = emulator("bsub", seed=1, speed=0, jobs=150)
    service = BsubService("bsub", running.url, bsub_support.token_of(running))
    services.append(service)
    monitor, before = await polled_twice(service)
    assert len(before) > 100
    job = next(j for j in before if j.raw_state == "processing")
    await service.run_action(Action.CANCEL, job)
    await changed_after(monitor, before, job.id)


async def test_ecotaxa_unchanged_answers_give_the_same_jobs(
    emulator: EmulatorFactory, services: list[Service]
) -> None:
    running = emulator("ecotaxa", seed=1, speed=0, jobs=30)
    username, password = ecotaxa_support.credentials(running)
    service = EcoTaxaService("EcoTaxa", running.url, username=username, password=password)
    services.append(service)
    monitor, before = await polled_twice(service)
    job = next(j for j in before if j.raw_state == "error")
    await service.run_action(Action.RESTART, job)
    await changed_after(monitor, before, job.id)


async def test_leia_unchanged_statuses_give_the_same_jobs(
    emulator: EmulatorFactory, services: list[Service]
) -> None:
    running = emulator("leia", seed=1, speed=0, jobs=40)
    service = LeiaService("Leia", running.url, str(running.emulator.config["api_key"]))
    services.append(service)
    monitor, before = await polled_twice(service)  # a full listing, then the statuses only
    state = running.state
    assert isinstance(state, LeiaState)
    job = next(j for j in before if j.raw_state == "PROCESSING" and not state.dependants.get(j.id))
    await service.run_action(Action.CANCEL, job)
    await changed_after(monitor, before, job.id)
