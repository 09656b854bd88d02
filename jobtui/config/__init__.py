"""The config file: TOML read with tomllib, checked by pydantic models, written with tomli-w.

    [ui]
    refresh = 2.0

    [[services]]
    name = "bsub.io"
    kind = "bsub"
    url = "https://app.bsub.io"
    token = "env:BSUB_TOKEN"

Every secret (tokens, passwords, api keys) is given literally, as `env:NAME` (an environment
variable) or as `file:PATH` (the file's contents, stripped; `~` expanded; a relative path is
relative to the config file), and is resolved once, at load, into a `SecretStr`.

`load_config` never lets a traceback or a secret out: every problem becomes one
`PATH:LINE: KEY: message` line of a `ConfigError`, and every problem of the file is reported at
once. The rooms: `values` (secrets, URLs, keys: no pydantic), `models` (the tables), `load`
(reading, locating and wording problems, where the file is), `files` (what jobtui writes: config
files, the theme, the starter file and config.example.toml). This package never imports Textual.
"""

from jobtui.config.files import (
    SYMLINK_REFUSED,
    example_config_text,
    save_theme,
    starter_config_text,
    to_toml,
    warn_if_readable,
    with_theme,
    write_config_file,
)
from jobtui.config.load import (
    NO_SERVICES,
    ConfigError,
    ConfigProblem,
    KeyLocator,
    check_config,
    config_from_data,
    config_search_description,
    default_config_path,
    format_key,
    load_config,
    parse_config,
)
from jobtui.config.models import (
    SERVICE_MODELS,
    BsubConfig,
    Config,
    DspIngestConfig,
    EcoTaxaConfig,
    JournalConfig,
    LeiaConfig,
    LimitsConfig,
    NotificationsConfig,
    ServiceConfig,
    UiConfig,
    field_doc,
    table_keys,
)
from jobtui.config.values import (
    DEFAULT_THEME,
    ENV_PREFIX,
    FILE_PREFIX,
    FIXED_KEYS,
    KEY_ACTIONS,
    KIND_KEY_ACTIONS,
    MIN_REFRESH,
    NOTIFY_EVENTS,
    OSC_CHOICES,
    Invalid,
    NotifyEvent,
    check_action_name,
    check_keys,
    check_url,
    is_secret_reference,
    key_conflicts,
    key_name,
    resolve_secret,
)

__all__ = [
    "DEFAULT_THEME",
    "ENV_PREFIX",
    "FILE_PREFIX",
    "FIXED_KEYS",
    "KEY_ACTIONS",
    "KIND_KEY_ACTIONS",
    "MIN_REFRESH",
    "NOTIFY_EVENTS",
    "NO_SERVICES",
    "OSC_CHOICES",
    "SERVICE_MODELS",
    "SYMLINK_REFUSED",
    "BsubConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DspIngestConfig",
    "EcoTaxaConfig",
    "Invalid",
    "JournalConfig",
    "KeyLocator",
    "LeiaConfig",
    "LimitsConfig",
    "NotificationsConfig",
    "NotifyEvent",
    "ServiceConfig",
    "UiConfig",
    "check_action_name",
    "check_config",
    "check_keys",
    "check_url",
    "config_from_data",
    "config_search_description",
    "default_config_path",
    "example_config_text",
    "field_doc",
    "format_key",
    "is_secret_reference",
    "key_conflicts",
    "key_name",
    "load_config",
    "parse_config",
    "resolve_secret",
    "save_theme",
    "starter_config_text",
    "table_keys",
    "to_toml",
    "warn_if_readable",
    "with_theme",
    "write_config_file",
]
