"""`Secret`: masked wherever it is shown, the same in pydantic models and out of them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, ValidationError

from jobtui.core.secret import Secret


class Holder(BaseModel):
    token: Secret
    spare: Secret | None = None


def test_a_secret_never_shows_itself() -> None:
    secret = Secret("s3cret-value")
    for shown in (str(secret), repr(secret), f"{secret}", repr([secret]), str({"k": secret})):
        assert "s3cret" not in shown
    assert str(secret) == "**********" and repr(secret) == "Secret('**********')"
    assert str(Secret("")) == "" and len(secret) == len("s3cret-value")
    assert secret.get_secret_value() == "s3cret-value"


def test_equality_and_of() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert Secret("a") != "a" and len({Secret("a"), Secret("a")}) == 1
    kept = Secret("a")
    assert Secret.of(kept) is kept and Secret.of("a") == kept
    with pytest.raises(TypeError):
        Secret(3)  # type: ignore[arg-type]


def test_in_a_pydantic_model() -> None:
    held = Holder.model_validate_json('{"token": "s3cret-value"}')
    assert isinstance(held.token, Secret) and held.token.get_secret_value() == "s3cret-value"
    assert "s3cret" not in repr(held) and "s3cret" not in held.model_dump_json()
    assert held.model_dump(mode="json") == {"token": "**********", "spare": None}
    assert Holder(token=Secret("x")).token == Secret("x")
    assert Holder.model_validate({"token": "x"}).token == Secret("x")
    with pytest.raises(ValidationError) as caught:
        Holder.model_validate_json('{"token": 5}')
    assert caught.value.errors()[0]["loc"] == ("token",)


def test_importing_it_imports_no_pydantic() -> None:
    code = "import sys, jobtui.core.secret; print('pydantic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
