"""The `[notifications]` table: its defaults, its checks, each problem named by file, line and key."""

from __future__ import annotations

import pytest

from jobtui.config import ConfigError, NotificationsConfig, parse_config


def test_defaults_notify_every_event_with_no_bell_and_no_osc() -> None:
    config = parse_config("", "c.toml")
    assert config.notifications == NotificationsConfig(
        events=["succeeded", "failed", "needs_input", "overdue"], bell=False, osc="off"
    )


def test_a_full_table_and_a_bare_number_for_osc() -> None:
    text = '[notifications]\nevents = ["failed"]\nbell = true\nosc = 777\n'
    assert parse_config(text, "c.toml").notifications == NotificationsConfig(
        events=["failed"], bell=True, osc="777"
    )
    assert parse_config("[notifications]\nevents = []\n", "c.toml").notifications.events == []


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ('osc = "8"', "c.toml:3: notifications.osc: must be 'off', '9' or '777'"),
        ("osc = true", "c.toml:3: notifications.osc: must be 'off', '9' or '777'"),
        (
            'events = ["failed", "done"]',
            "c.toml:3: notifications.events[1]: must be 'succeeded', 'failed', 'needs_input' or 'overdue'",
        ),
        (
            'events = ["failed", "failed"]',
            "c.toml:3: notifications.events[1]: 'failed' is listed twice",
        ),
        ('bell = "yes"', "c.toml:3: notifications.bell: must be true or false"),
        ("bel = true", "c.toml:3: notifications.bel: unknown key (did you mean bell?)"),
    ],
)
def test_problems_name_the_key(body: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"# notifications\n[notifications]\n{body}\n", "c.toml")
    assert str(caught.value) == line
