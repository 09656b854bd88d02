"""The world of the EcoTaxa emulator: its constants, users, projects and names, compact JSON, and
the signed login tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BASE_PATH = "/api"
"""The URL the service is configured with; the same routes also answer at the server's root."""

STATES = ("P", "R", "A", "E", "F")
EXPORT_TYPES = frozenset(
    {"GeneralExport", "SummaryExport", "BackupExport", "GenExport", "DarwinCoreExport"}
)
JOB_KEYS = (
    "params",
    "result",
    "errors",
    "question",
    "reply",
    "inside",
    "id",
    "owner_id",
    "type",
    "state",
    "step",
    "progress_pct",
    "progress_msg",
    "creation_date",
    "updated_on",
)
"""The JobModel keys, in the order the server sends them."""

MSG_WAITING = "Waiting for a slot"
MSG_PROCEEDING = "Proceeding"
MSG_RESTARTING = "Restarting"
MSG_KILLED = "Killed"
MSG_DONE = "Done"
MSG_ASKING = "Some users or taxonomic references could not be matched"

MAX_TOKEN_AGE = 2_678_400
"""31 days, in seconds."""
STREAM_CHUNK = 64 * 1024
BACK_END = "\n----------- BACK-END -------------\n"
JOBS_DIR = "/app/temp_tasks"
APP = "/app"
"""Where the server's code sits in its image (the `py` folder of the repository)."""
SITE = "/venv/lib/python3.8/site-packages"
PYTHON_LIB = "/usr/lib/python3.8"
LOG_NAME = "TaskLogBack.txt"
JOB_SERVICE = "API_operations.helpers.JobService"
SCHEDULER = "BG_operations.JobScheduler"
ADMIN_RIGHT = 2


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Compact JSON, as the server's orjson writes it."""
    return _ENCODER.encode(value).encode("utf-8")


# -- the world: users, projects, names ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    password: str
    organisation: str
    country: str
    can_do: tuple[int, ...]
    active: bool = True

    @property
    def is_admin(self) -> bool:
        """Application administrator (right 2): sees and acts on every job."""
        return ADMIN_RIGHT in self.can_do


PROJECTS: tuple[tuple[int, str], ...] = (
    (412, "UVP5 Tara Oceans 2009-2012"),
    (1163, "Zooscan Point B weekly 2015"),
    (3058, "FlowCam Bay of Biscay PELGAS 2021"),
    (5421, "IFCB Villefranche time series"),
    (7310, "ISIIS Ligurian front 2013"),
    (9150, "LOKI Arctic AWI 2018"),
    (11842, "UVP6 BGC-Argo floats"),
    (12655, "PlanktoScope Roscoff training"),
)
COLLECTIONS = (18, 27, 41)
UNKNOWN_USERS = (
    "elizandro rodriguez",
    "marie dupont",
    "j. smith",
    "lab tech 3",
    "k. yamamoto",
    "station operator",
)
UNKNOWN_TAXA = (
    "other",
    "ozzeur",
    "copepoda<maxillopoda",
    "detritus fiber",
    "egg sp.",
    "t001",
    "nauplii<crustacea",
    "appendicularia tail",
)
KNOWN_USERS = {"jean martin": 2, "amanda elineau": 1, "fabien lombard": 3}
KNOWN_TAXA = {"copepoda": 25828, "detritus": 84963, "chaetognatha": 11811, "bubble": 85011}
COLUMNS = {
    "object_id": "orig_id",
    "object_lat": "latitude",
    "object_lon": "longitude",
    "object_date": "objdate",
    "object_annotation_category": "classif_id",
}
KNOWN_USER_ITEMS = sorted(KNOWN_USERS.items())
KNOWN_TAXA_ITEMS = sorted(KNOWN_TAXA.items())
KNOWN_TAXA_IDS = list(KNOWN_TAXA.values())
COLUMN_ITEMS = sorted(COLUMNS.items())
EXPORT_FAILURES = (
    (
        "OperationalError",
        "(psycopg2.errors.QueryCanceled) canceling statement due to statement timeout",
        "sqlalchemy.exc.OperationalError",
    ),
    ("OSError", "[Errno 28] No space left on device", "OSError"),
    ("AssertionError", "No object to export", "AssertionError"),
    ("AttributeError", "'NoneType' object has no attribute 'orig_id'", "AttributeError"),
)
IMPORT_ERRORS = (
    "Invalid float value 'n/a' for object_lat in ecotaxa_{n}.tsv line {line}",
    "Missing image file img_{line:05d}.jpg for ecotaxa_{n}.tsv line {line}",
    "Duplicate object_id 'obj_{line}' in ecotaxa_{n}.tsv line {line}",
    "Invalid date '2019-13-{day:02d}' for object_date in ecotaxa_{n}.tsv line {line}",
)
PROGRESS_MSGS: Mapping[str, tuple[str, ...]] = {
    "FileImport": ("Validating rows", "Loading objects", "Loading images", "Updating statistics"),
    "SimpleImport": ("Reading images", "Loading images", "Updating statistics"),
    "GeneralExport": ("Querying objects", "Writing TSV", "Adding images", "Zipping"),
    "GenExport": ("Querying objects", "Writing TSV", "Zipping"),
    "SummaryExport": ("Querying objects", "Summarizing"),
    "BackupExport": ("Querying objects", "Writing TSV", "Adding images", "Zipping"),
    "DarwinCoreExport": ("Collecting samples", "Computing abundances", "Writing archive"),
    "Subset": ("Selecting objects", "Copying objects", "Copying images"),
    "NightlyMaintenance": ("Archiving old jobs", "Cleaning temporary folders"),
}
LOGGERS: Mapping[str, str] = {
    "FileImport": "API_operations.imports.Import",
    "SimpleImport": "API_operations.imports.SimpleImport",
    "GeneralExport": "API_operations.exports.ForProject",
    "GenExport": "API_operations.exports.ForProject",
    "SummaryExport": "API_operations.exports.ForProject",
    "BackupExport": "API_operations.exports.ForProject",
    "DarwinCoreExport": "API_operations.exports.DarwinCore",
    "Subset": "API_operations.Subset",
    "Prediction": "API_operations.Prediction",
    "NightlyMaintenance": "API_operations.admin.NightlyJob",
}
WEIGHTS = (
    ("FileImport", 28),
    ("GeneralExport", 16),
    ("SummaryExport", 8),
    ("BackupExport", 8),
    ("DarwinCoreExport", 4),
    ("GenExport", 3),
    ("Subset", 10),
    ("SimpleImport", 8),
    ("Prediction", 8),
)


def content_type_for(name: str) -> str:
    """The `content-type` of a job file: from its extension, else the literal `unknown`."""
    if name.endswith(".zip"):
        return "application/zip"
    if name.endswith(".tsv"):
        return "text/tab-separated-values"
    return "unknown"


# -- tokens ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: bytes, user_id: int, timestamp: int) -> str:
    """An itsdangerous-style signed value: `payload.timestamp.signature`."""
    payload = _b64(dumps({"user_id": user_id}))
    stamp = _b64(timestamp.to_bytes(max(1, (timestamp.bit_length() + 7) // 8), "big"))
    signature = hmac.new(secret, f"{payload}.{stamp}".encode(), hashlib.sha1).digest()
    return f"{payload}.{stamp}.{_b64(signature)}"


def read_token(secret: bytes, token: str, now: int, max_age: int = MAX_TOKEN_AGE) -> int | None:
    """The user id a token was made for, or None when its signature, age or payload is bad."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload, stamp, signature = parts
    expected = hmac.new(secret, f"{payload}.{stamp}".encode(), hashlib.sha1).digest()
    try:
        if not hmac.compare_digest(_unb64(signature), expected):
            return None
        made = int.from_bytes(_unb64(stamp), "big")
        data = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if now - made > max_age:
        return None
    user_id = data.get("user_id") if isinstance(data, dict) else None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 0:
        return None
    return user_id
