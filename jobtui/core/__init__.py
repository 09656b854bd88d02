"""The service-independent model of jobtui: jobs, states, actions, deltas, errors and polling.

Nothing in this package imports Textual or does I/O of its own.
"""

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    ServerError,
    ServiceError,
    TooLargeError,
    TooSlowError,
    TransportError,
)
from jobtui.core.models import (
    ACTION_INFO,
    Action,
    ActionInfo,
    Column,
    Job,
    JobsDelta,
    JobState,
    diff_jobs,
)
from jobtui.core.service import PollResult, Service

__all__ = [
    "ACTION_INFO",
    "Action",
    "ActionInfo",
    "AuthError",
    "BadPayloadError",
    "Column",
    "ConflictError",
    "Job",
    "JobState",
    "JobsDelta",
    "NotFoundError",
    "PollResult",
    "RateLimitedError",
    "RefusedError",
    "ServerError",
    "Service",
    "ServiceError",
    "TooLargeError",
    "TooSlowError",
    "TransportError",
    "diff_jobs",
]
