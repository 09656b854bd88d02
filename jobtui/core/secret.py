"""`Secret`: a string that never shows itself.

Tokens, passwords and API keys travel through jobtui as `Secret`s, from the config file to the
request header that needs them: `str()` and `repr()` give `**********`, so a secret cannot end up
on screen, in a log line or in an error message by accident. Only `get_secret_value()` gives the
text, and only the code that puts it on the wire calls it.

It stands in pydantic models too (the services' wire models hold the tokens servers send), yet
importing it costs nothing: pydantic is imported only when a model with a `Secret` is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

MASK: Final = "**********"


class Revealable(Protocol):
    """A secret that gives its text on request only: `Secret`, or pydantic's `SecretStr`."""

    def get_secret_value(self) -> str: ...


class Secret:
    """A secret string: masked in `str()` and `repr()`, equal to another `Secret` of the same text."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself: only for the header or body that carries it."""
        return self._value

    def __str__(self) -> str:
        return MASK if self._value else ""

    def __repr__(self) -> str:
        return f"Secret('{self}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    @classmethod
    def of(cls, value: Revealable | str) -> Secret:
        """`value` as a `Secret`: a `Secret` is kept as it is, a config's `SecretStr` (anything
        with `get_secret_value`) is taken over without showing itself on the way."""
        if isinstance(value, Secret):
            return value
        return cls(value if isinstance(value, str) else value.get_secret_value())

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """In a pydantic model: validated from a string (or a `Secret`), dumped masked as JSON."""
        from pydantic_core import core_schema

        from_text = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_text]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"),
        )
