"""The EcoTaxa emulator's state: jobs, tokens and the job runner's state machine, logs and files."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request

from jobtui.emulators.base import EmulatorSettings, SimState
from jobtui.emulators.ecotaxa.content import (
    as_mapping,
    describe,
    failure_of,
    history_log,
    make_file,
    positive_id,
    result_of,
)
from jobtui.emulators.ecotaxa.errors import (
    ROUTE_FRAMES,
    ApiError,
    BackEndCrash,
    Frame,
    exception_log,
    exception_pieces,
    job_dir,
    traceback_text,
)
from jobtui.emulators.ecotaxa.world import (
    APP,
    EXPORT_TYPES,
    IMPORT_ERRORS,
    JOB_SERVICE,
    LOG_NAME,
    LOGGERS,
    MSG_ASKING,
    MSG_DONE,
    MSG_KILLED,
    MSG_PROCEEDING,
    MSG_RESTARTING,
    MSG_WAITING,
    PROGRESS_MSGS,
    SCHEDULER,
    User,
    dumps,
    make_token,
    read_token,
)

# -- jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fate:
    """How one run of a job goes: how long it waits and runs, and whether it fails."""

    queue: float
    duration: float
    steps: int
    fails: bool


@dataclass(slots=True, eq=False)
class SimJob:
    """One job. `key` is its positive id for ever; `id` is negated when it is archived. Times are
    simulated seconds since the epoch (negative: before it)."""

    key: int
    type: str
    owner_id: int
    created: float
    updated: float
    state: str = "P"
    progress_pct: int | None = None
    progress_msg: str | None = MSG_WAITING
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    question: dict[str, Any] = field(default_factory=dict)
    reply: dict[str, Any] = field(default_factory=dict)
    inside: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    emptied: bool = False
    """Its task folder was emptied by an archive (all but the log): it has no file any more."""
    fails: bool = False
    """The first run ends in error (exports, subsets...) or with validation errors (imports)."""
    missing_users: tuple[str, ...] = ()
    """Names the import's file holds that the server cannot match (until a reply maps them)."""
    missing_taxa: tuple[str, ...] = ()
    pending_reply: dict[str, Any] | None = None
    """The reply the next run of an import reads."""
    runs: int = 0
    step_no: int = 0
    """Progress reports made by the current run."""
    pid: int | None = None
    log: list[tuple[float, str, str, str]] | None = None
    """(time, logger, level, message); None until the job first runs."""
    size: int | None = None
    """The size of its file, for exports."""
    gen: int = 0
    """Bumped when an action changes the job's course: scheduled events of older gens are void."""
    stamp: int = 0
    """Bumped on every change: the JSON cache is valid while it holds."""
    cache: tuple[int, bytes] | None = None
    history: bool = False
    """An old seeded job whose log is made up when it is first read."""

    @property
    def id(self) -> int:
        return -self.key if self.archived else self.key


def _gen(job: SimJob) -> int:
    return job.gen


class EcoTaxaState(SimState):
    """Everything the EcoTaxa emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `counts` (requests per operation id), `users`, `user`
    (the config's user), `admin`, `jobs` (positive id -> SimJob), `order` (oldest first), `rows`
    (the order `GET /jobs/` lists them in: by last write), `peers` (the client address of each
    request, so that tests can count connections),
    `ranges` (Range headers received by `/file`), `tick()`, `advance(s)`, `job(id)`, `owned_by(user,
    state)`, `to_json(job)`, `log_text(job)`, `file_of(job)`, `token_for(user)`,
    `invalidate_tokens()`.
    """

    ARRIVAL_GAP = 45.0
    MAX_ARRIVALS_PER_TICK = 2000

    def __init__(self, settings: EmulatorSettings) -> None:
        from jobtui.emulators.ecotaxa.seed import arrive, seed_jobs  # seed builds on this module

        super().__init__(settings, "ecotaxa")
        options = dict(settings.options)
        self.epoch = settings.epoch.replace(tzinfo=None) - (
            settings.epoch.utcoffset() or timedelta(0)
        )
        self.ranges: list[str] = []
        self.peers: deque[tuple[str, int]] = deque(maxlen=10_000)
        self.front_url = str(options.get("front_url") or "https://ecotaxa.invalid").rstrip("/")
        self.legacy = bool(options.get("legacy", False))
        self.strict_ranges = bool(options.get("strict_ranges", False))
        size = options.get("file_size")
        self.file_size: int | None = None if size is None else max(0, int(size))
        self._secret_rng = random.Random(f"ecotaxa:{settings.seed}:secret")
        self.secret = self._new_secret()

        def password(option: str) -> str:
            given = options.get(option)
            if given:
                return str(given)
            return f"{self.rng.choice(('plankton', 'copepod', 'diatom', 'krill'))}-{self.rng.getrandbits(40):010x}"

        user_password, admin_password = password("password"), password("admin_password")
        self.users: dict[int, User] = {
            1: User(
                1,
                "admin@ecotaxa.example",
                "Application Administrator",
                admin_password,
                "Institut de la Mer de Villefranche",
                "France",
                (1, 2, 3, 4),
            ),
            2: User(
                2,
                "alice.martin@ecotaxa.example",
                "Alice Martin",
                user_password,
                "Laboratoire d'Oceanographie de Villefranche",
                "France",
                (1,),
            ),
            3: User(
                3,
                "bob.tanaka@ecotaxa.example",
                "Bob Tanaka",
                f"squid-{self.rng.getrandbits(40):010x}",
                "Tokyo University of Marine Science",
                "Japan",
                (1, 3),
            ),
            4: User(
                4,
                "carol.inactive@ecotaxa.example",
                "Carol Inactive",
                f"salp-{self.rng.getrandbits(40):010x}",
                "Station Biologique de Roscoff",
                "France",
                (1,),
                active=False,
            ),
        }
        self.user = self.users[2]
        self.admin = self.users[1]

        self.jobs: dict[int, SimJob] = {}
        self.order: list[SimJob] = []
        self.rows: OrderedDict[int, SimJob] = OrderedDict()
        """The job table in the order a scan without ORDER BY meets its rows: PostgreSQL writes
        a new version of a row on each update, so a row moves to the end when it is written."""
        self._next_id = 47_000 + self.rng.randrange(0, 900)
        self._files: OrderedDict[tuple[int, str], bytes] = OrderedDict()

        seed_jobs(self, max(0, settings.jobs))
        # the seeded history was written in creation order, job by job: put each row where its
        # last update leaves it
        self.rows = OrderedDict(
            sorted(self.rows.items(), key=lambda item: (item[1].updated, item[0]))
        )

        self.start_arrivals(options.get("arrivals"), lambda t: arrive(self, t))

    # -- time -----------------------------------------------------------------------------------

    def moment(self, t: float) -> datetime:
        """The naive UTC wall-clock time of simulated second `t`."""
        return self.epoch + timedelta(microseconds=round(t * 1_000_000))

    def iso(self, t: float) -> str:
        """Naive ISO 8601, no timezone; the fraction is left out when it is 0."""
        return self.moment(t).isoformat()

    def unix(self, t: float) -> int:
        return int((self.moment(t) - datetime(1970, 1, 1)).total_seconds())

    # -- tokens ---------------------------------------------------------------------------------

    def _new_secret(self) -> bytes:
        key = self._secret_rng.getrandbits(256).to_bytes(32, "big")
        return hashlib.sha1(b"cookie-session" + b"signer" + key).digest()

    def token_for(self, user: User) -> str:
        return make_token(self.secret, user.id, self.unix(self.now()))

    def invalidate_tokens(self) -> None:
        """Every token given so far becomes invalid (401), as after a change of the secret."""
        with self.lock:
            self.secret = self._new_secret()

    def login(self, username: str, password: str) -> str:
        user = next(
            (u for u in self.users.values() if u.email.lower() == username.strip().lower()),
            None,
        )
        if (
            user is None
            or not user.active
            or not hmac.compare_digest(user.password.encode(), password.encode())
        ):
            raise ApiError(403, "You can't do this.")
        return self.token_for(user)

    def authenticate(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, param = header.partition(" ")
        token = param.strip() if scheme.lower() == "bearer" else ""
        if not token:
            token = request.cookies.get("session", "")
        if not token:
            raise ApiError(403, "Not authenticated")
        user_id = read_token(self.secret, token, self.unix(self.now()))
        if user_id is None:
            raise ApiError(401, "Could not validate credentials", {"WWW-Authenticate": "Bearer"})
        user = self.users.get(user_id)
        if user is None or not user.active:
            raise ApiError(403, "You can't do this.")
        return user

    # -- events ---------------------------------------------------------------------------------

    def start_at(self, t: float, job: SimJob) -> None:
        """The job's run starts at time `t`, unless an action changes its course before."""
        self.at(t, job, self.start_run, _gen)

    def fate(self, job: SimJob) -> Fate:
        """How the job's current run goes (deterministic for a seed, a job and a run number)."""
        rng = random.Random(f"ecotaxa:{self.seed}:{job.key}:{job.runs}")
        queue = rng.uniform(1.0, 12.0)
        if job.type == "FileImport":
            duration = rng.uniform(8.0, 60.0)
        elif job.type in ("GeneralExport", "BackupExport", "GenExport"):
            duration = rng.uniform(15.0, 150.0)
        elif job.type == "NightlyMaintenance":
            duration = rng.uniform(20.0, 40.0)
        else:
            duration = rng.uniform(5.0, 60.0)
        steps = len(PROGRESS_MSGS.get(job.type, ("Working",)))
        return Fate(queue, duration, steps, job.fails and job.runs <= 1)

    def changed(self, job: SimJob, t: float) -> None:
        """Record a change of the job at time `t`."""
        job.updated = max(job.updated, t)
        job.stamp += 1
        if job.key in self.rows:
            self.rows.move_to_end(job.key)

    def _enqueue(self, job: SimJob, t: float, message: str) -> None:
        """Put the job in P; the scheduler picks it up after a while (never for Prediction)."""
        job.gen += 1
        job.state = "P"
        job.progress_msg = message
        job.pid = None
        self.changed(job, t)
        if job.type != "Prediction" and not job.archived:  # the scheduler skips ids <= 0
            self.start_at(t + self.fate(job).queue, job)

    def start_run(
        self, job: SimJob, t: float, *, duration: float | None = None, schedule: bool = True
    ) -> None:
        """P -> R: the job gets a process. Its progress steps and its end are scheduled."""
        job.runs += 1
        job.step_no = 0
        job.state = "R"
        job.pid = random.Random(f"ecotaxa:{self.seed}:{job.key}:pid:{job.runs}").randrange(
            2000, 65000
        )
        self.log(job, t, SCHEDULER, "INFO", f"Running in PID {job.pid}")
        self.changed(job, t)
        if not schedule:
            return
        fate = self.fate(job)
        span = fate.duration if duration is None else duration
        for step in range(fate.steps):
            self.at(t + span * step / fate.steps + 0.5, job, self.progress, _gen)
        self.at(t + span, job, self.end_run, _gen)

    def progress(self, job: SimJob, t: float) -> None:
        """One progress report of a running job: the next message and percentage."""
        messages = PROGRESS_MSGS.get(job.type, ("Working",))
        step = min(job.step_no, len(messages) - 1)
        job.step_no += 1
        job.progress_pct = min(99, round(100 * step / len(messages)))
        job.progress_msg = messages[step]
        self.log(
            job,
            t,
            LOGGERS.get(job.type, "root"),
            "INFO",
            f"{job.progress_msg} ({job.progress_pct}%)",
        )
        self.changed(job, t)

    def end_run(self, job: SimJob, t: float) -> None:
        if job.type == "FileImport":
            self._end_import(job, t)
        elif self.fate(job).fails:
            self.crash(job, t, *failure_of(self, job))
        else:
            self.finish(job, t)

    def _end_import(self, job: SimJob, t: float) -> None:
        reply, job.pending_reply = job.pending_reply, None
        if reply is not None:
            for key in ("users", "taxa"):
                if key not in reply:
                    self.crash(
                        job,
                        t,
                        f"'{key}'",
                        (
                            (
                                f"{APP}/API_operations/imports/Import.py",
                                83,
                                "do_background",
                                "self.do_complete_and_continue()",
                            ),
                            (
                                f"{APP}/API_operations/imports/Import.py",
                                95,
                                "do_complete_and_continue",
                                'found_users, found_taxa, self.last_reply["users"], '
                                'self.last_reply["taxa"]',
                            ),
                        ),
                        f"KeyError: '{key}'",
                    )
                    return
            found_users = job.inside.setdefault("found_users", {})
            found_taxa = job.inside.setdefault("taxo_found", {})
            for name, value in as_mapping(reply["users"]).items():
                number = positive_id(value)
                if number is not None:
                    found_users[name] = number
            for name, value in as_mapping(reply["taxa"]).items():
                number = positive_id(value)
                if number is not None:
                    found_taxa[name.lower()] = number
        users = [u for u in job.missing_users if u not in job.inside.get("found_users", {})]
        taxa = [x for x in job.missing_taxa if x not in job.inside.get("taxo_found", {})]
        logger = LOGGERS["FileImport"]
        if users or taxa:
            job.state = "A"
            job.question = {"missing_users": users, "missing_taxa": taxa}
            job.progress_msg = MSG_ASKING
            self.log(
                job,
                t,
                logger,
                "INFO",
                f"Asking: {len(users)} user(s) and {len(taxa)} taxon name(s) could not be matched",
            )
            self.changed(job, t)
            return
        if self.fate(job).fails:
            rng = random.Random(f"ecotaxa:{self.seed}:{job.key}:infos")
            infos = [
                rng.choice(IMPORT_ERRORS).format(
                    n=job.key % 97, line=rng.randrange(2, 4000), day=rng.randrange(1, 29)
                )
                for _ in range(rng.randrange(1, 5))
            ]
            job.state = "E"
            job.errors = infos
            job.result = {"infos": infos}
            job.progress_msg = f"{len(infos)} error(s) during run"
            for info in infos:
                self.log(job, t, logger, "ERROR", info)
            self.changed(job, t)
            return
        self.finish(job, t)

    def finish(self, job: SimJob, t: float) -> None:
        job.state = "F"
        job.emptied = False
        job.progress_pct = 100
        job.progress_msg = MSG_DONE
        job.result = result_of(self, job)
        self.log(
            job, t, LOGGERS.get(job.type, "root"), "INFO", f"Done: {dumps(job.result).decode()}"
        )
        self.changed(job, t)

    def crash(
        self,
        job: SimJob,
        t: float,
        message: str,
        frames: Iterable[Frame],
        last: str,
    ) -> None:
        """End the job on an uncaught exception, as `run_in_background` does: `message` is
        `str(exception)` (empty for a bare `assert`), `errors` the `format_exception` pieces
        (`frames` are those below `run_in_background`, `last` the exception line), and the log
        says "Unexpected termination" and then the traceback."""
        frames = tuple(frames)
        job.state = "E"
        job.progress_msg = message
        job.errors = exception_pieces(frames, last)
        logger = "API_operations.helpers.JobService"
        self.log(job, t, logger, "ERROR", f"Unexpected termination of #{job.key}")
        self.log(job, t, logger, "ERROR", f"{message}\n{exception_log(frames, last)}")
        self.changed(job, t)

    def log(self, job: SimJob, t: float, logger: str, level: str, message: str) -> None:
        """Append to the job's TaskLogBack.txt; an empty `logger` writes `message` as it is
        (as the kill does), not as a formatted log record."""
        if job.log is None:
            job.log = history_log(self, job) if job.history else []
        job.log.append((t, logger, level, message))

    # -- jobs -----------------------------------------------------------------------------------

    def new_id(self) -> int:
        job_id = self._next_id
        self._next_id += self.rng.choice((1, 1, 1, 2, 3))
        return job_id

    def add(self, job: SimJob) -> SimJob:
        self.jobs[job.key] = job
        self.order.append(job)
        self.rows[job.key] = job
        return job

    def create(self, type_: str, owner: int, t: float) -> SimJob:
        """A new job in P with its parameters, as a type-specific POST endpoint makes it."""
        job = SimJob(key=self.new_id(), type=type_, owner_id=owner, created=t, updated=t)
        rng = random.Random(f"ecotaxa:{self.seed}:{job.key}:make")
        describe(self, job, rng)
        self.add(job)
        self.log(job, t, JOB_SERVICE, "INFO", f"Creating job {job.key}")
        self._enqueue(job, t, MSG_WAITING)
        return job

    def job(self, job_id: int) -> SimJob:
        """The job with this wire id (negative: an archived one), or 404."""
        job = self.jobs.get(abs(job_id))
        if job is None or job.id != job_id or job_id == 0:
            raise ApiError(404, "Not found.")
        return job

    def accessible(self, user: User, job_id: int) -> SimJob:
        job = self.job(job_id)
        if job.owner_id != user.id and not user.is_admin:
            raise ApiError(403, "You can't do this.")
        return job

    def listing(
        self, user: User, everyone: bool, job_type: str | None, job_status: str | None
    ) -> list[SimJob]:
        """The jobs `GET /jobs/` lists, in table order (`rows`): no ORDER BY, as on the server."""
        return [
            job
            for job in self.rows.values()
            if not job.archived
            and (everyone or job.owner_id == user.id)
            and (job_type is None or job.type == job_type)
            and (job_status is None or job.state == job_status)
        ]

    def owned_by(
        self, user_id: int, state: str | None = None, type_: str | None = None
    ) -> list[SimJob]:
        """The listed jobs of a user, newest first, narrowed by state and type (for tests)."""
        with self.lock:
            self.tick()
            return [
                job
                for job in reversed(self.order)
                if not job.archived
                and job.owner_id == user_id
                and (state is None or job.state == state)
                and (type_ is None or job.type == type_)
            ]

    def answer(self, job: SimJob, user: User, reply: dict[str, Any]) -> None:
        t = self.now()
        if job.state != "A":
            self.changed(job, t)  # the reply is dropped; only updated_on moves
            return
        job.reply = reply
        job.pending_reply = reply
        self._enqueue(job, t, MSG_PROCEEDING)

    def restart(self, job: SimJob) -> None:
        t = self.now()
        if job.state != "E":
            self.changed(job, t)
            return
        self._enqueue(job, t, MSG_RESTARTING)

    def erase(self, job: SimJob, user: User) -> None:
        t = self.now()
        if job.state in ("P", "R", "A"):
            job.gen += 1
            job.state = "E"
            job.progress_msg = MSG_KILLED
            self.log(job, t, "", "", f"\nProcess killed by user {user.id}")
            job.pid = None
            self.changed(job, t)
            return
        # F or E: the task folder is emptied (but for the log) and the id negated. Erasing an
        # archived job (`DELETE /jobs/-N`) negates it back: the job is listed again, its files
        # gone, its log (under the positive id's folder) readable again.
        job.gen += 1
        job.archived = not job.archived
        job.emptied = True
        self.changed(job, t)

    def to_json(self, job: SimJob) -> bytes:
        cached = job.cache
        if cached is not None and cached[0] == job.stamp:
            return cached[1]
        data = dumps(
            {
                "params": job.params,
                "result": job.result,
                "errors": job.errors,
                "question": job.question,
                "reply": job.reply,
                "inside": job.inside,
                "id": job.id,
                "owner_id": job.owner_id,
                "type": job.type,
                "state": job.state,
                "step": None,
                "progress_pct": job.progress_pct,
                "progress_msg": job.progress_msg,
                "creation_date": self.iso(job.created),
                "updated_on": self.iso(job.updated),
            }
        )
        job.cache = (job.stamp, data)
        return data

    # -- logs and files -------------------------------------------------------------------------

    def log_path(self, job_id: int) -> str:
        return f"{job_dir(job_id)}/{LOG_NAME}"

    def log_text(self, job: SimJob) -> str | None:
        """The job's TaskLogBack.txt up to now; None when the file does not exist."""
        if job.log is None and job.history:
            job.log = history_log(state=self, job=job)
        if job.archived or job.log is None:
            return None
        lines = []
        for t, logger, level, message in job.log:
            if not logger:
                lines.append(message)
                continue
            stamp = self.moment(t)
            asctime = stamp.strftime("%Y-%m-%d %H:%M:%S") + f",{stamp.microsecond // 1000:03d}"
            lines.append(f"{asctime}:{logger}:{level} {message}")
        return "\n".join(lines) + "\n"

    def file_name(self, job: SimJob) -> str | None:
        if job.type == "DarwinCoreExport":
            return "dwca.zip" if job.state == "F" else None
        out = job.result.get("out_file")
        return out if isinstance(out, str) else None

    def file_of(self, job: SimJob) -> tuple[str, bytes]:
        """The job's produced file (made on demand, the same bytes every time), or a crash."""
        frames = (
            *ROUTE_FRAMES,
            (
                f"{APP}/main.py",
                3820,
                "get_job_file",
                "tsk_file, file_name = sce.get_file_stream(current_user, job_id)",
            ),
        )
        if job.type not in EXPORT_TYPES:
            raise BackEndCrash(
                traceback_text(
                    (
                        *frames,
                        (
                            f"{APP}/API_operations/CRUD/Jobs.py",
                            148,
                            "get_file_stream",
                            "file_name = job_svc.PRODUCED_FILE_NAME",
                        ),
                    ),
                    f"AttributeError: type object '{job.type}' has no attribute 'PRODUCED_FILE_NAME'",
                )
            )
        name = self.file_name(job)
        if name is None or job.state != "F":
            raise BackEndCrash(
                traceback_text(
                    (
                        *frames,
                        (
                            f"{APP}/API_operations/exports/ForProject.py",
                            131,
                            "PRODUCED_FILE_NAME",
                            'return self.job.result["out_file"]',
                        ),
                    ),
                    "KeyError: 'out_file'",
                )
            )
        if job.archived or job.emptied:
            raise BackEndCrash(
                traceback_text(
                    (
                        *frames,
                        (
                            f"{APP}/API_operations/CRUD/Jobs.py",
                            152,
                            "get_file_stream",
                            'return open(file_path, "rb"), file_name',
                        ),
                    ),
                    f"FileNotFoundError: [Errno 2] No such file or directory: '{job_dir(job.key)}/{name}'",
                )
            )
        key = (job.key, name)
        data = self._files.get(key)
        if data is None:
            data = make_file(self, job, name)
            self._files[key] = data
            while len(self._files) > 6:
                self._files.popitem(last=False)
        self._files.move_to_end(key)
        return name, data

    def file_size_of(self, job: SimJob) -> int:
        if self.file_size is not None:
            return self.file_size
        if job.size is None:
            job.size = random.Random(f"ecotaxa:{self.seed}:{job.key}:size").randrange(
                20_000, 2_000_000
            )
        return job.size
