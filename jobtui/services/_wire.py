"""What the services' wire models share: their base model (unknown fields kept), the lenient
field parsers, and the one-line form of a validation error. Every service keeps what the server
sent whenever it can be read at all."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Protocol, TypeVar, overload

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from jobtui.core.errors import BadPayloadError
from jobtui.core.models import Job
from jobtui.core.pacing import Pacer
from jobtui.core.text import clean, clean_tree, suspect

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")
R = TypeVar("R")

DEFERRED: ConfigDict = {"defer_build": True}
"""For the adapters of lists of wire models: their schema is built at the first answer, not when
the module is imported (which would delay the dashboard's first frame)."""


def lenient_time(value: Any) -> Any:
    """A date-time as the server wrote it (`Z`, an offset, or naive UTC); anything else is None."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def text(value: Any) -> Any:
    """A number where text was expected is kept as its text; anything else is left to the model."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def texts(value: Any) -> Any:
    """A list of text: null is empty, one text a list of it, None items dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    return value


def list_of_text(value: Any) -> Any:
    """A list of text: null is empty, every item as its text (a non-list is left to the model)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


def texts_or_json(value: Any) -> Any:
    """A list of lines: null is empty, an item that is not text as its JSON, one value a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return [item if isinstance(item, str) else json.dumps(item) for item in value]
    return [str(value)]


def size(value: Any) -> Any:
    """A byte count: an integer, or a number sent as text or float; anything else is None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def number(value: Any) -> Any:
    """A number as it is (an integer stays one), numeric text as its number, anything else
    None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return None


class SharedText:
    """Equal short texts of many records as one object: the values that repeat across thousands
    of jobs (a status, a job type, a model, an owner) are otherwise a fresh copy in every record.

    Bounded, since the texts come from a server: at most `entries` texts of at most `longest`
    characters are remembered; a longer text, or a new one once it is full, is kept as it is (a
    server sending ever other values costs what it cost without sharing). Not `sys.intern`, which
    keeps whatever it is given for ever."""

    __slots__ = ("_entries", "_longest", "_texts")

    def __init__(self, entries: int = 4096, longest: int = 64) -> None:
        self._texts: dict[str, str] = {}
        self._entries = entries
        self._longest = longest

    @overload
    def __call__(self, value: str) -> str: ...

    @overload
    def __call__(self, value: None) -> None: ...

    @overload
    def __call__(self, value: str | None) -> str | None: ...

    def __call__(self, value: str | None) -> str | None:
        if value is None or len(value) > self._longest:
            return value
        texts = self._texts
        one = texts.get(value)
        if one is not None:
            return one
        if len(texts) < self._entries:
            texts[value] = value
        return value

    def __len__(self) -> int:
        return len(self._texts)


SHARED = SharedText()
"""The texts that repeat across the records of every service (`WireShared`)."""

WireTime = Annotated[datetime | None, BeforeValidator(lenient_time)]
WireText = Annotated[str | None, BeforeValidator(text)]
WireShared = Annotated[str | None, BeforeValidator(text), AfterValidator(SHARED)]
"""A text that repeats across many records of a list (a state, a job type, a model, an owner):
equal ones are one object (`SharedText`), not a fresh copy in every record."""


class Wire(BaseModel):
    """The base of every wire model: unknown fields are kept, a field may be given by its name or
    its alias, and the schema is built at the first answer (not at import)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class _Status(Protocol):
    terminal_states: ClassVar[frozenset[str]]

    @property
    def status(self) -> str | None: ...


class Stated:
    """A wire record whose `status` is its state's name, as sent (any text)."""

    __slots__ = ()
    terminal_states: ClassVar[frozenset[str]] = frozenset()
    """The states a job does not leave."""

    @property
    def status_text(self: _Status) -> str:
        return self.status or ""

    @property
    def terminal(self: _Status) -> bool:
        return (self.status or "") in self.terminal_states


def errors_line(error: ValidationError) -> str:
    """The first problem of a body that did not validate, as "where: what"."""
    first = error.errors()[0] if error.errors() else None
    if not first:
        return "unexpected body"
    where = ".".join(str(part) for part in first.get("loc", ()))
    return clean(f"{where or 'body'}: {first.get('msg', 'invalid')}")


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
"""What JSON counts as space between its tokens."""


def array_items(content: bytes) -> Iterator[Any]:
    """The items of a JSON array, decoded one at a time by the standard library's decoder
    (`json.JSONDecoder.raw_decode`, as `json.loads` reads a whole document): a long list is
    turned into records one item at a time, and each item's dicts are let go before the next is
    read. Validated all at once, 35,000 EcoTaxa jobs were 120 MB of models at the same time,
    and the dashboard kept most of that memory after they were let go (the records made from
    them lay among the pieces). Raises `ValueError` (or `RecursionError`) where the body stops
    being a JSON array: the items before it were good, the body as a whole is not."""
    text = content.decode()
    decoder = json.JSONDecoder()

    def space(text: str, at: int) -> int:
        found = _JSON_SPACE.match(text, at)
        return found.end() if found else at

    at = space(text, 0)
    if text[at : at + 1] != "[":
        raise ValueError("not a JSON array")
    at = space(text, at + 1)
    if text[at : at + 1] == "]":
        at += 1
    else:
        while True:
            item, at = decoder.raw_decode(text, at)
            yield item
            at = space(text, at)
            sign = text[at : at + 1]
            at = space(text, at + 1)
            if sign == "]":
                break
            if sign != ",":
                raise ValueError(f"expected ',' or ']' at {at}")
    if space(text, at) != len(text):
        raise ValueError("extra data after the array")


def parse_body(
    service: str, adapter: TypeAdapter[T], content: bytes, what: str, lines: Collection[str] = ()
) -> T:
    """Validate a response body; a body that does not fit is one `BadPayloadError` line.

    Every string of the result is clean (`jobtui.core.text.clean`): a body that may hold a control
    or bidirectional character anywhere is decoded, cleaned whole, then validated; the strings
    under a key named in `lines` keep their newlines and tabs. Any other body (nearly every one)
    is validated straight from its bytes.
    """
    from pydantic import ValidationError  # loaded already: `adapter` is pydantic's

    try:
        if suspect(content):
            return adapter.validate_python(_cleaned(service, content, what, lines))
        return adapter.validate_json(content)
    except ValidationError as error:
        if content.lstrip()[:1] == b"<":
            raise BadPayloadError(service, f"unexpected {what}: an HTML page, not JSON") from None
        raise BadPayloadError(service, f"unexpected {what}: {errors_line(error)}") from None


def _cleaned(service: str, content: bytes, what: str, lines: Collection[str]) -> Any:
    """The decoded body, every string cleaned."""
    try:
        return clean_tree(json.loads(content), lines)
    except (ValueError, RecursionError):
        if content.lstrip()[:1] == b"<":
            raise BadPayloadError(service, f"unexpected {what}: an HTML page, not JSON") from None
        raise BadPayloadError(service, f"unexpected {what}: not JSON") from None


class Dumps(Protocol):
    """A wire model that can give the record as received."""

    def wire(self) -> dict[str, Any]: ...


class LazyRecord(Mapping[str, Any]):
    """A wire record as a mapping, dumped from its model on first use (the detail pane's view).

    A poll turns every record into a `Job`; dumping each one then would cost more than the rest of
    the poll together, and only the job on screen is ever looked at. One slot per job: the record
    (a model, or what a service keeps of one) until the first use, then its dump.
    """

    __slots__ = ("_source",)

    def __init__(self, model: Dumps) -> None:
        self._source: Dumps | dict[str, Any] = model

    def _record(self) -> dict[str, Any]:
        source = self._source
        if isinstance(source, dict):
            return source
        data = self._source = source.wire()
        return data

    def dumped(self) -> dict[str, Any]:
        """The record as a mapping, made again if it was not made yet and not kept: for a reader
        that reads every job's record once (the journal), not the detail pane."""
        source = self._source
        return source if isinstance(source, dict) else source.wire()

    def __getitem__(self, key: str) -> Any:
        return self._record()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._record())

    def __len__(self) -> int:
        return len(self._record())

    def __repr__(self) -> str:
        return f"LazyRecord({self._record()!r})"


PARSE_IN_THREAD = 32 << 10
"""Bytes of an answer from which `SameBody.parse_off_loop` validates it in a thread."""

TRIM_AFTER = 4 << 20
"""Bytes of an answer after whose parse the memory it freed is given back to the system."""

HASH_IN_THREAD = 1 << 20
"""Bytes of an answer from which `SameBody` hashes it in a thread (see `_Body`)."""


class _Body:
    """An answer's body as a key of `SameBody`, hashed once. A large body (`HASH_IN_THREAD`)
    is hashed by blake2b in a thread, which hashlib lets run without the interpreter's lock:
    Python's own hash of a body, made on the event loop at its first lookup, held it 40 ms for
    a list of 100,000 EcoTaxa jobs (66 MB)."""

    __slots__ = ("_hash", "content")

    def __init__(self, content: bytes, hashed: int | None = None) -> None:
        self.content = content
        self._hash = hash(content) if hashed is None else hashed

    @staticmethod
    def digest(content: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(content, digest_size=8).digest(), "big")

    @classmethod
    async def of(cls, content: bytes) -> _Body:
        if len(content) < HASH_IN_THREAD:
            return cls(content)
        return cls(content, await asyncio.to_thread(cls.digest, content))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Body) and (
            other.content is self.content or other.content == self.content
        )


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def give_back_memory() -> None:
    """Return the memory the C allocator holds free to the system (glibc only; elsewhere
    nothing). A large answer's parse leaves most of what it used free but held: for an unpaged
    list of 50,000 EcoTaxa jobs, some 200 MB of the dashboard's memory, kept for its whole run."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class SameBody(Generic[T]):
    """The parse of the last answers, so that an answer identical to an earlier one (a poll of a
    service where nothing changed) is not parsed again. Holds at most `entries` answers and
    `limit` bytes of bodies (but always the newest answer), the least recently seen dropped
    first.

    The parsed values weigh several times their bodies, and a service whose jobs move answers
    differently at every poll: bounded by bytes alone, 8 MiB of bodies that never come again
    held their parses too (RSS +64 % over 10 minutes of moving jobs). A poll asks each client a
    few things (bsub.io: its list and, when cut, six states; Leia: a list of up to `entries`
    pages), so the answers of the last polls stay, and an idle poll still parses nothing.

    An answer given with the `key` of what was asked (a page's offset, a state) is the only one
    kept for that key: the answer it replaces is dropped at once (unless another key's answer is
    the same body). While jobs move, each poll's answers differ from the last; without keys the
    cache filled with answers no request would get again, each holding every job of its list.
    """

    def __init__(self, limit: int = 8 << 20, entries: int = 16) -> None:
        self._parsed: dict[_Body, T] = {}
        self._keys: dict[Hashable, _Body] = {}
        """The body of the latest answer to each key."""
        self._limit = limit
        self._entries = entries

    def has(self, content: bytes) -> bool:
        """Whether the parse of an answer identical to `content` is kept."""
        if self._known(content) is not None:
            return True
        large = len(content) >= HASH_IN_THREAD
        return _Body(content, _Body.digest(content) if large else None) in self._parsed

    @property
    def newest(self) -> bytes | None:
        """The body of the answer seen last (for `read_bounded`'s `same`)."""
        body = next(reversed(self._parsed), None)
        return None if body is None else body.content

    def parse(self, content: bytes, parse: Callable[[bytes], T], key: Hashable = None) -> T:
        body = self._known(content) or _Body(content)
        hit = self._hit(body, key)
        if hit is not None:
            return hit
        value = parse(content)
        self._keep(body, value, key)
        return value

    async def parse_off_loop(
        self, content: bytes, parse: Callable[[bytes], T], key: Hashable = None
    ) -> T:
        """`parse`, in a thread when the answer is large (`PARSE_IN_THREAD`): a page of a
        long list is validated while the event loop goes on answering keys."""
        if len(content) <= PARSE_IN_THREAD:
            return self.parse(content, parse, key)
        body = self._known(content) or await _Body.of(content)
        hit = self._hit(body, key)
        if hit is not None:
            return hit
        value = await asyncio.to_thread(parse, content)
        self._keep(body, value, key)
        if len(content) >= TRIM_AFTER:
            await asyncio.to_thread(give_back_memory)
        return value

    def _known(self, content: bytes) -> _Body | None:
        """The key of the very `content` object, when it is kept (`read_bounded` gives an
        answer identical to the newest as that object): found without hashing it again."""
        for body in reversed(self._parsed):
            if body.content is content:
                return body
        return None

    def _hit(self, body: _Body, key: Hashable) -> T | None:
        parsed = self._parsed
        hit = parsed.pop(body, None)
        if hit is not None:
            parsed[body] = hit  # now the most recently seen
            if key is not None:
                self._keys[key] = body
        return hit

    def _keep(self, body: _Body, value: T, key: Hashable = None) -> None:
        """Keep the newest answer whatever its size (an unpaged list of 50,000 EcoTaxa jobs is
        17 MB: parsed again at every poll, it took a core), and the others within the bounds;
        drop the answer to `key` this one replaces."""
        parsed = self._parsed
        if key is not None:
            keys = self._keys
            replaced = keys.pop(key, None)
            if replaced is not None and replaced not in keys.values():
                parsed.pop(replaced, None)
            keys[key] = body
        size = sum(len(kept.content) for kept in parsed)
        while parsed and (size + len(body.content) > self._limit or len(parsed) >= self._entries):
            size -= len((oldest := next(iter(parsed))).content)
            del parsed[oldest]
        parsed[body] = value
        if len(self._keys) > 2 * self._entries:  # keys of answers dropped: many pages, say
            kept = [(k, kept) for k, kept in self._keys.items() if kept in parsed]
            self._keys = dict(kept[-2 * self._entries :])


class JobsOfRecords(Generic[R]):
    """Jobs made from wire records, reused while a record is the very same object (which
    `SameBody` hands out again for an unchanged answer): the poll then costs no conversion, and
    the unchanged jobs are the same objects, which is the cheapest case of `diff_jobs`. The very
    same `records` object as the last time (an unchanged answer) gives the very same list back,
    which `ServiceMonitor` takes as "nothing changed" without comparing a job.

    The jobs are kept by the `id()` of their record; the records of the last call are held (one
    tuple), so that no id in `_made` can belong to another object while it is looked up."""

    def __init__(self) -> None:
        self._made: dict[int, Job] = {}
        self._records: Iterable[R] | None = None
        self._held: tuple[R, ...] = ()
        self._jobs: list[Job] = []

    def jobs(self, records: Iterable[R], to_job: Callable[[R], Job]) -> list[Job]:
        if records is not self._records:
            for _made in self._make(records, to_job):
                pass
        return self._jobs

    async def jobs_in_slices(
        self, records: Iterable[R], to_job: Callable[[R], Job], pacer: Pacer | None = None
    ) -> list[Job]:
        """`jobs`, letting the event loop run after each turn of work (`Pacer`: a list of 50,000
        takes a second, keys are answered meanwhile). The last call's jobs stay whole until
        this one is done."""
        if records is not self._records:
            pacer = pacer or Pacer()
            for _ in self._make(records, to_job):
                if pacer.due():
                    await pacer.rest()
        return self._jobs

    def _make(self, records: Iterable[R], to_job: Callable[[R], Job]) -> Iterator[None]:
        """Make the jobs of `records`, yielding after each one made (not after one reused)."""
        before = self._made
        held = tuple(records)
        made: dict[int, Job] = {}
        jobs: list[Job] = []
        for record in held:
            job = before.get(id(record))
            if job is None:
                job = to_job(record)
                yield
            made[id(record)] = job
            jobs.append(job)
        self._made = made
        self._records = records
        self._held = held
        self._jobs = jobs


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def shared_fields_set(records: Iterable[BaseModel]) -> None:
    """Let frozen wire models that were sent the same fields share one set of their names.

    pydantic keeps each model's sent fields in a set of its own (216 bytes, 728 past five
    names), while nearly every record of a list was sent the same ones. pydantic only reads it
    (`exclude_unset`, `model_fields_set`) but on assignment, which a frozen model refuses, and
    `model_copy` copies it first."""
    shared = _FIELDS_SETS
    for record in records:
        if not record.model_config.get("frozen"):
            raise TypeError(f"{type(record).__name__} is not frozen: its fields set is its own")
        names = record.__pydantic_fields_set__
        key = frozenset(names)
        one = shared.get(key)
        if one is None:
            if len(shared) >= 4096:  # a server sending ever other fields: keep each its own
                continue
            one = shared[key] = names
        object.__setattr__(record, "__pydantic_fields_set__", one)
