"""What EcoTaxa's jobs are made of: parameters, results, failures, history logs and export files,
made up from the seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtui.emulators.ecotaxa.state import EcoTaxaState, SimJob

import io
import random
import zipfile
from collections.abc import Mapping
from typing import Any

from jobtui.emulators.ecotaxa.errors import JOB_STACK, Frame
from jobtui.emulators.ecotaxa.world import (
    APP,
    COLLECTIONS,
    COLUMN_ITEMS,
    EXPORT_FAILURES,
    JOB_SERVICE,
    KNOWN_TAXA,
    KNOWN_TAXA_IDS,
    KNOWN_TAXA_ITEMS,
    KNOWN_USER_ITEMS,
    LOGGERS,
    MSG_KILLED,
    PROGRESS_MSGS,
    PROJECTS,
    SCHEDULER,
    UNKNOWN_TAXA,
    UNKNOWN_USERS,
    dumps,
)

# -- made-up content ------------------------------------------------------------------------


def as_mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def positive_id(value: Any) -> int | None:
    """A reply's id: a positive integer, or text holding one (the front end sends text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


def _stamp(state: EcoTaxaState, t: float) -> str:
    return state.moment(t).strftime("%Y%m%d_%H%M")


def describe(state: EcoTaxaState, job: SimJob, rng: random.Random) -> None:
    """Fill a new job's params (and what an import will find in its file)."""
    project, _title = rng.choice(PROJECTS)
    t = job.created
    if job.type == "FileImport":
        source = rng.choice(
            (
                f"/remote/ftp/Ecotaxa_Data_to_import/uvp5_sn010_{2015 + rng.randrange(9)}/ecotaxa_ctd_{rng.randrange(1, 300):03d}.zip",
                f"/app/temp_tasks/upload/{rng.getrandbits(32):08x}/ecotaxa_flowcam_{rng.randrange(1000, 9999)}.tsv",
                f"/remote/ftp/Ecotaxa_Exported_data/zooscan_pointb_{rng.randrange(2000, 2024)}.zip",
            )
        )
        job.params = {
            "prj_id": project,
            "req": {
                "source_path": source,
                "taxo_mappings": {},
                "skip_loaded_files": rng.random() < 0.2,
                "skip_existing_objects": rng.random() < 0.2,
                "update_mode": rng.choice(("", "", "", "Yes", "Cla")),
            },
        }
        job.inside = {
            "found_users": dict(rng.sample(KNOWN_USER_ITEMS, rng.randrange(0, 3))),
            "taxo_found": dict(rng.sample(KNOWN_TAXA_ITEMS, rng.randrange(1, 4))),
            "col_mapping": dict(rng.sample(COLUMN_ITEMS, 3)),
            "nb_rows": rng.randrange(50, 40_000),
            "source_path": source,
        }
        if rng.random() < 0.35:
            job.missing_users = tuple(rng.sample(UNKNOWN_USERS, rng.randrange(0, 3)))
            job.missing_taxa = tuple(rng.sample(UNKNOWN_TAXA, rng.randrange(1, 4)))
    elif job.type == "SimpleImport":
        job.params = {
            "prj_id": project,
            "req": {
                "source_path": f"/app/temp_tasks/upload/{rng.getrandbits(32):08x}/images_{rng.randrange(100):02d}.zip",
                "values": {
                    "imgdate": state.moment(t).strftime("%Y%m%d"),
                    "latitude": f"{rng.uniform(-60, 60):.4f}",
                    "longitude": f"{rng.uniform(-180, 180):.4f}",
                },
            },
            "dry_run": False,
        }
    elif job.type in ("GeneralExport", "SummaryExport", "BackupExport", "GenExport"):
        req: dict[str, Any] = {"collection_id": None, "project_id": project, "out_to_ftp": False}
        if job.type == "GeneralExport":
            req.update(
                split_by=rng.choice(("", "sample", "acquisition", "taxon")),
                with_images=rng.choice(("none", "first", "all")),
                with_internal_ids=False,
                only_annotations=rng.random() < 0.3,
            )
        elif job.type == "SummaryExport":
            req.update(
                quantity=rng.choice(("abundance", "concentration", "biovolume")),
                summarise_by=rng.choice(("sample", "acquisition", "none")),
                taxo_mapping={},
                formulae={},
            )
        elif job.type == "GenExport":
            req.update(
                exp_type=rng.choice(("TSV", "BAK", "ABO", "CNC", "BIV")), tsv_entities="OPASHC"
            )
        job.params = {"req": req, "filters": {"statusfilter": rng.choice(("", "V", "VD"))}}
    elif job.type == "DarwinCoreExport":
        job.params = {
            "collection_id": rng.choice(COLLECTIONS),
            "dry_run": False,
            "include_predicted": rng.random() < 0.3,
            "with_absent": rng.random() < 0.5,
            "with_computations": rng.sample(["ABO", "CNC", "BIV"], rng.randrange(0, 3)),
            "formulae": {
                "subsample_coef": "1/ssm.sub_part",
                "total_water_volume": "sam.tot_vol/1000",
            },
            "extra_xml": [],
            "current_user_id": job.owner_id,
        }
    elif job.type == "Subset":
        job.params = {
            "prj_id": project,
            "req": {
                "filters": {"taxo": str(rng.choice(KNOWN_TAXA_IDS)), "taxochild": "Y"},
                "dest_prj_id": rng.choice(PROJECTS)[0],
                "group_type": rng.choice(("S", "A", "C")),
                "limit_type": rng.choice(("P", "V")),
                "limit_value": float(rng.choice((10, 25, 50, 100))),
                "do_images": rng.random() < 0.7,
            },
        }
    elif job.type == "Prediction":
        job.params = {
            "req": {
                "project_id": project,
                "source_project_ids": sorted({rng.choice(PROJECTS)[0] for _ in range(3)}),
                "features": ["fre.area", "fre.mean", "fre.major", "fre.minor"],
                "use_scn": rng.random() < 0.5,
                "pre_mapping": {},
            },
            "filters": {},
        }
    else:
        job.params = {}


def result_of(state: EcoTaxaState, job: SimJob, rng: random.Random | None = None) -> dict[str, Any]:
    rng = rng or random.Random(f"ecotaxa:{state.seed}:{job.key}:result")
    if job.type == "FileImport":
        return {"rowcount": int(job.inside.get("nb_rows", rng.randrange(50, 40_000)))}
    if job.type == "SimpleImport":
        return {"nb_images": rng.randrange(1, 500)}
    if job.type in ("GeneralExport", "SummaryExport", "BackupExport", "GenExport"):
        req = job.params.get("req", {})
        project = req.get("project_id", 0)
        kind = {
            "GeneralExport": "TSV",
            "SummaryExport": "SUM",
            "BackupExport": "BAK",
            "GenExport": str(req.get("exp_type", "TSV")),
        }[job.type]
        ext = ".tsv" if job.type == "SummaryExport" or kind in ("ABO", "CNC", "BIV") else ".zip"
        prefix = rng.choice(("", "", "tara_", "pelgas"))
        name = f"export_{prefix}_{kind}_{project}_{_stamp(state, job.updated)}{ext}"
        return {"rowcount": rng.randrange(10, 250_000), "out_file": name}
    if job.type == "DarwinCoreExport":
        warnings = [
            f"No occurrence added for sample 'st{rng.randrange(1, 300):03d}_{rng.randrange(1, 9)}' in {rng.choice(PROJECTS)[1]}"
            for _ in range(rng.randrange(0, 3))
        ]
        return {"wrns": warnings}
    if job.type == "Subset":
        return {"rowcount": rng.randrange(10, 50_000)}
    if job.type == "NightlyMaintenance":
        return {"status": "ok"}
    return {}


_FAILING_LINES: Mapping[str, str] = {
    "OperationalError": "res = self.ro_session.execute(text(sql), params)",
    "OSError": "csv_fd.write(a_line)",
    "AssertionError": 'assert nb_rows > 0, "No object to export"',
    "AttributeError": "orig_id = an_obj.orig_id",
}
_PROJECT_EXPORTS = frozenset({"GeneralExport", "SummaryExport", "BackupExport", "GenExport"})


def failure_of(
    state: EcoTaxaState, job: SimJob, rng: random.Random | None = None
) -> tuple[str, tuple[Frame, ...], str]:
    """(progress_msg, frames below `run_in_background`, exception line) of a crashed run.

    A summary export that fails on its assertion fails on a bare `assert`, whose message is
    empty, as real ones do."""
    rng = rng or random.Random(f"ecotaxa:{state.seed}:{job.key}:failure")
    name, message, qualified = rng.choice(EXPORT_FAILURES)
    line = rng.randrange(90, 400)
    module = LOGGERS.get(job.type, "API_operations.JobService").replace(".", "/")
    path = f"{APP}/{module}.py"
    failing = _FAILING_LINES.get(name, "raise")
    if job.type in _PROJECT_EXPORTS:
        summary = job.type == "SummaryExport"
        step = "create_summary" if summary else "create_tsv"
        if summary and name == "AssertionError":
            message, failing = "", "assert nb_rows > 0"
        frames: tuple[Frame, ...] = (
            (path, 131, "do_background", "self.do_export()"),
            (path, 256, "do_export", "nb_rows = self.do_export_projects(project_ids, 100)"),
            (
                path,
                166 if summary else 158,
                "do_export_projects",
                f"nb_rows = self.{step}(project_ids)",
            ),
            (path, 500 + line, step, failing),
        )
    else:
        frames = (
            (path, line, "do_background", "self.do_run()"),
            (path, line + 40, "do_run", failing),
        )
    return message, frames, f"{qualified}: {message}" if message else qualified


_TSV_HEADER = (
    "object_id\tobject_lat\tobject_lon\tobject_date\tobject_time\tobject_depth_min\t"
    "object_depth_max\tobject_annotation_status\tobject_annotation_category\tobject_area\t"
    "object_major\tobject_minor\tsample_id\tacq_instrument\n"
)


def _tsv(rng: random.Random, size: int) -> bytes:
    """`size` bytes of a made-up export TSV (the last row is cut to fit)."""
    taxa = [*KNOWN_TAXA, "copepoda<maxillopoda", "appendicularia", "detritus"]
    out = io.BytesIO()
    out.write(_TSV_HEADER.encode())
    row = 0
    while out.tell() < size:
        row += 1
        line = (
            f"obj_{row:07d}\t{rng.uniform(-60, 60):.5f}\t{rng.uniform(-180, 180):.5f}\t"
            f"2019{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}\t"
            f"{rng.randrange(24):02d}{rng.randrange(60):02d}00\t{rng.randrange(0, 500)}\t"
            f"{rng.randrange(500, 1000)}\t{rng.choice(('validated', 'predicted', 'dubious'))}\t"
            f"{rng.choice(taxa)}\t{rng.randrange(50, 90_000)}\t{rng.uniform(5, 400):.2f}\t"
            f"{rng.uniform(2, 200):.2f}\tst{rng.randrange(1, 300):03d}\tuvp5\n"
        )
        out.write(line.encode())
    return out.getvalue()[:size]


_ZIP_TIME = (2026, 11, 2, 9, 0, 0)


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def make_file(state: EcoTaxaState, job: SimJob, name: str) -> bytes:
    """The job's file: a TSV of the configured size, or a zip of that size holding one."""
    size = state.file_size_of(job)
    rng = random.Random(f"ecotaxa:{state.seed}:{job.key}:file")
    if not name.endswith(".zip"):
        return _tsv(rng, size)
    inner = name.removesuffix(".zip") + ".tsv" if name != "dwca.zip" else "occurrence.txt"
    meta = (
        f"job\t{job.key}\ntype\t{job.type}\nproject\t"
        f"{job.params.get('req', {}).get('project_id', job.params.get('collection_id', ''))}\n"
    ).encode()
    empty = _zip([(inner, b""), ("export_info.txt", meta)])
    body = _tsv(rng, max(0, size - len(empty)))
    return _zip([(inner, body), ("export_info.txt", meta)])


def history_log(state: EcoTaxaState, job: SimJob) -> list[tuple[float, str, str, str]]:
    """The log of an old seeded job, made up from what it ended as."""
    rng = random.Random(f"ecotaxa:{state.seed}:{job.key}:history")
    start = job.created + (job.updated - job.created) * 0.1
    logger = LOGGERS.get(job.type, "root")
    lines = [
        (job.created, JOB_SERVICE, "INFO", f"Creating job {job.key}"),
        (start, SCHEDULER, "INFO", f"Running in PID {rng.randrange(2000, 65000)}"),
    ]
    messages = PROGRESS_MSGS.get(job.type, ("Working",))
    reached = (
        len(messages) if job.state == "F" else 1 + (job.progress_pct or 0) * len(messages) // 100
    )
    for step in range(min(reached, len(messages))):
        t = start + (job.updated - start) * step / len(messages) + 0.5
        pct = round(100 * step / len(messages))
        lines.append((t, logger, "INFO", f"{messages[step]} ({pct}%)"))
    end = job.updated
    if job.state == "F":
        lines.append((end, logger, "INFO", f"Done: {dumps(job.result).decode()}"))
    elif job.progress_msg == MSG_KILLED:
        lines.append((end, "", "", f"\nProcess killed by user {job.owner_id}"))
    elif job.type == "FileImport":
        lines.extend((end, logger, "ERROR", info) for info in job.errors)
    else:
        below = "".join(job.errors[len(JOB_STACK) :]).rstrip("\n")
        lines.append((end, JOB_SERVICE, "ERROR", f"Unexpected termination of #{job.key}"))
        lines.append(
            (
                end,
                JOB_SERVICE,
                "ERROR",
                f"{job.progress_msg}\nTraceback (most recent call last):\n{below}",
            )
        )
    return lines
