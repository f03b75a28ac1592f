"""Settings: the one object every part of yuqing reads its configuration from.

Order of precedence: ``YUQING_*`` environment variables, then ``yuqing.toml`` in the working
directory (or the file named by ``YUQING_CONFIG``), then the defaults declared here. Every field
carries a description; ``docs/configuration.md`` is generated from them and a test keeps the two
in step.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_NAME = "yuqing.toml"


def config_path() -> Path:
    """The TOML file settings are read from (it need not exist)."""
    return Path(os.environ.get("YUQING_CONFIG", CONFIG_FILE_NAME))


class Settings(BaseSettings):
    """All of yuqing's settings. Field descriptions are the user documentation."""

    model_config = SettingsConfigDict(env_prefix="YUQING_", extra="ignore", validate_default=True)

    database_url: str = Field(
        default="sqlite:///yuqing.db",
        description="SQLAlchemy database URL. The default is a SQLite file `yuqing.db` in the working "
        "directory (WAL journal, busy timeout); use `postgresql+psycopg://host/db` to scale out.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=10_000, ge=0, description="How long a SQLite writer waits for a lock before failing (ms)."
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Time zone for display, for schedules and for timestamps published without one.",
    )
    allow_private_addresses: bool = Field(
        default=False,
        description="Allow the fetcher and the chat robots' webhooks to reach private, loopback and "
        "link-local addresses. Off by default so neither a source nor a robot URL can be used to probe "
        "the internal network; tests turn it on.",
    )
    fetch_max_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest response body the fetcher accepts (bytes)."
    )
    fetch_connect_timeout: float = Field(default=10.0, gt=0, description="Connect timeout (seconds).")
    fetch_read_timeout: float = Field(
        default=30.0, gt=0, description="Timeout between two reads from a server (seconds)."
    )
    fetch_total_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Deadline for a whole request, so a server that trickles bytes cannot hold a fetch "
        "forever (seconds).",
    )
    fetch_max_redirects: int = Field(default=5, ge=0, description="Redirects followed before giving up.")
    respect_robots_txt: bool = Field(
        default=True, description="Honour robots.txt of the sites fetched. Turn off only with permission."
    )
    bridge_instances: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The office's own RSSHub and WeWe RSS instances, comma-separated (e.g. "
        "`http://127.0.0.1:1200,http://wewe-rss:4000`). Sources on these hosts and ports may be on "
        "private addresses and are fetched without asking robots.txt (WeWe RSS forbids all robots); "
        "every other site keeps both checks. Only the administrator sets this.",
    )
    user_agent: str = Field(
        default="yuqing/0.1 (+public-opinion monitor)", description="User-Agent header sent by the fetcher."
    )
    default_schedule: str = Field(
        default="0 8,20 * * *",
        description="Schedule of a source that names none: a cron expression in `timezone`, or an "
        "interval such as `30m`, `2h`, `1d`. The default scans twice a day, at 08:00 and 20:00, as the "
        "plan asks.",
    )
    schedule_jitter_seconds: int = Field(
        default=120,
        ge=0,
        description="Random delay added to each scheduled run so sources do not all "
        "start at the same second.",
    )
    backoff_base_seconds: int = Field(
        default=300,
        ge=1,
        description="Wait before retrying a source after its first failure; doubles "
        "with each consecutive failure.",
    )
    backoff_max_seconds: int = Field(
        default=6 * 3600, ge=1, description="Longest wait between retries of a failing source."
    )
    silent_after_runs: int = Field(
        default=3,
        ge=1,
        description="A source whose fetches succeed but bring no items this many runs in a row is "
        "flagged as silently stopped.",
    )
    dedup_min_content_chars: int = Field(
        default=20,
        ge=1,
        description="Posts whose normalised text is shorter than this are not deduplicated by content "
        "(short reposts such as 转发微博 are distinct posts); they are still deduplicated by URL or id.",
    )
    near_duplicate_window_days: int = Field(
        default=14,
        ge=0,
        description="Posts fetched within this many days form the near-duplicate index loaded at "
        "start; a copy of an older post is stored as new.",
    )
    near_duplicate_max_items: int = Field(
        default=500_000,
        gt=0,
        description="Most posts kept in the in-memory near-duplicate index (about 1.3 KB each); the "
        "oldest are dropped first.",
    )
    import_batch_size: int = Field(
        default=5000, gt=0, description="Rows written per transaction by imports and fetches."
    )
    import_max_decompressed_bytes: int = Field(
        default=1024**3,
        gt=0,
        description="Largest size a compressed (.gz) import may reach once decompressed (bytes); a "
        "file that grows past it (a 'zip bomb') keeps the rows read before and dead-letters the rest.",
    )
    import_worker: bool = Field(
        default=True,
        description="Prepare the rows of a large import (parsing, mapping, normalisation) in a second "
        "process while the first writes them; uses two cores.",
    )
    plan_profile: str = Field(
        default="",
        description="Plan profile file (grades and their conditions, TOML). Empty: the shipped "
        "four-level profile of seed 003; `two_level` profile of seed 000 ships beside it.",
    )
    analysis_enabled: bool = Field(
        default=True, description="Run the analysis pipeline on new posts inside `yuqing serve`."
    )
    analysis_tick_seconds: float = Field(
        default=2.0, gt=0, description="How often `yuqing serve` looks for new posts to analyse (seconds)."
    )
    analysis_lease_seconds: float = Field(
        default=120.0,
        ge=2,
        description="How long a pipeline's lease holds without renewal: a worker that died (or stalled) "
        "hands the analysis to another after this many seconds. Each batch renews it.",
    )
    nats_url: str = Field(
        default="",
        description="NATS server with JetStream (e.g. `nats://127.0.0.1:4222`). Set: `yuqing serve` "
        "announces stored posts on the stream and leaves the analysis to `yuqing worker` processes; "
        "empty: one process analyses as it stores (the embedded default).",
    )
    metrics_enabled: bool = Field(
        default=False,
        description="Serve Prometheus metrics at `/metrics` (posts per source, backlog, pipeline steps, "
        "outbox, source health, request latency). `/healthz` and `/readyz` are always served.",
    )
    metrics_token: str = Field(
        default="",
        description="Bearer token `/metrics` requires (`Authorization: Bearer …`); empty: none, so keep "
        "the port on an internal network.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines on standard error: `text`, or `json` (one object per line with time, "
        "level, logger, message and the pipeline step) for a log collector.",
    )
    source_silent_hours: float = Field(
        default=24.0,
        gt=0,
        description="A fetched source that used to bring new posts and has brought none for this "
        "many hours while being fetched raises an alarm to the administrators (a bridge such as "
        "RSSHub or WeWe RSS whose account expired keeps answering with old items).",
    )
    source_failure_alarm_runs: int = Field(
        default=3,
        ge=1,
        description="A fetched source whose runs fail this many times in a row raises an alarm to "
        "the administrators.",
    )
    alert_max_quiet_hours: float = Field(
        default=72.0,
        ge=0,
        description="An event whose newest post is older than this many hours when it is graded "
        "(a backfill of old posts, an import of last month's export) is graded and listed but "
        "raises no alert: nobody is woken and no report clock starts for an event that ended long "
        "ago. It alerts (舆情反复) once this many hours hold as many new posts as the plan's "
        "flare_up_posts (one repost of an old story wakes nobody). 0: every graded event alerts.",
    )
    alert_outside_regions: bool = Field(
        default=False,
        description="Alert events located plainly outside the regions of every unit as well (an "
        "incident in another province, for a city's units). By default such an event is graded and "
        "listed, its unit's office is told of a 重大 or 特别重大 one in the console, and nobody is "
        "woken: the plan leaves an event with a clear location to the local government. Events "
        "whose location is unclear always alert.",
    )
    response_tick_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often `yuqing serve` turns grade signals into alerts, escalates, sweeps "
        "deadlines and checks followed-up events (seconds).",
    )
    working_hours: str = Field(
        default="08:30-12:00,14:00-17:30",
        description="Working hours of the deadline clock on working days (Asia/Shanghai), as "
        "comma-separated `HH:MM-HH:MM` periods.",
    )
    smtp_host: str = Field(
        default="", description="SMTP server for e-mail notifications; empty: e-mail is off."
    )
    smtp_port: int = Field(default=25, gt=0, lt=65536, description="SMTP server port.")
    smtp_security: str = Field(
        default="none", description="SMTP transport security: `none`, `starttls` or `ssl`."
    )
    smtp_user: str = Field(default="", description="SMTP login name; empty: no login.")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_from: str = Field(default="yuqing@localhost", description="Sender address of e-mail notifications.")
    notify_max_attempts: int = Field(
        default=5, ge=1, description="Attempts to deliver one notification before it is marked failed."
    )
    notify_retry_seconds: float = Field(
        default=30.0, gt=0, description="Wait before the first retry of a failed delivery; doubles each time."
    )
    notify_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one delivery attempt (SMTP or webhook)."
    )
    host: str = Field(default="127.0.0.1", description="Address `yuqing serve` listens on.")
    port: int = Field(default=8000, gt=0, lt=65536, description="Port `yuqing serve` listens on.")
    scheduler_enabled: bool = Field(
        default=True, description="Run the source scheduler inside `yuqing serve`."
    )
    scheduler_tick_seconds: float = Field(
        default=15.0, gt=0, description="How often the scheduler looks for sources that are due (seconds)."
    )
    fetch_concurrency: int = Field(
        default=4,
        gt=0,
        le=32,
        description="Sources fetched at the same time by the scheduler and `yuqing fetch --once`.",
    )
    webhook_max_bytes: int = Field(
        default=5 * 1024 * 1024, gt=0, description="Largest webhook request body accepted (bytes)."
    )
    request_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        gt=0,
        description="Largest request body the console and the API read (bytes; webhooks have "
        "`webhook_max_bytes`). A larger one is refused with 413 before it is read.",
    )
    webhook_max_items: int = Field(
        default=5000,
        gt=0,
        description="Most posts one webhook request may carry; a larger delivery is refused whole "
        "(HTTP 413, with a dead letter) before anything is stored, and the sender splits it.",
    )
    session_hours: float = Field(
        default=12.0,
        gt=0,
        description="A console login ends after this many hours without a request (sliding expiry).",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Send the login cookies only over HTTPS (`Secure`). Turn on whenever the console is "
        "served through HTTPS.",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Wrong passwords in a row after which an account is locked."
    )
    login_lockout_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account refuses every password (minutes)."
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses of the office's reverse proxies, comma-separated (e.g. `127.0.0.1` or "
        "`10.0.0.5,10.0.0.6`; `*` trusts every peer). Only connections from these have their "
        "`X-Forwarded-For` and `X-Forwarded-Proto` believed, for the client address that the login "
        "limits and the audit log use. Empty (the default): the headers are ignored, as anyone on the "
        "server's own host could otherwise claim any address.",
    )
    login_attempts_per_address: int = Field(
        default=30,
        ge=1,
        description="Login attempts one client address may make within `login_attempt_window_seconds`; "
        "more get HTTP 429 before any password is checked. Successful logins do not count.",
    )
    login_attempts_per_login: int = Field(
        default=10,
        ge=1,
        description="Login attempts at one login name within `login_attempt_window_seconds`, from "
        "anywhere; more get HTTP 429 before any password is checked. Successful logins do not count.",
    )
    login_attempt_window_seconds: float = Field(
        default=60.0, gt=0, description="The sliding window of the two login attempt limits (seconds)."
    )
    login_hashing_slots: int = Field(
        default=2,
        ge=1,
        description="Password checks (argon2id, 64 MiB each) that run at once; the others wait, so a "
        "flood of logins cannot take every core from the people already at work.",
    )
    login_hashing_wait_seconds: float = Field(
        default=3.0,
        gt=0,
        description="How long a login waits for a free password-checking slot before it gets HTTP 503.",
    )
    admin_password: str = Field(
        default="",
        description="Password of the first administrator (`admin`) created by `yuqing init`; empty: a "
        "random one is printed once.",
    )
    demo_logins: bool = Field(
        default=False,
        description="Show the demo accounts and their shared password on the login page. Only for "
        "demos: never turn it on where real people log in.",
    )

    report_template_dir: str = Field(
        default="",
        description="Folder of the office's own Word templates (`special.docx`, `daily.docx`, …, or "
        "`default.docx` for all); empty: the shipped template (see docs/reports.md for its fields).",
    )
    report_font: str = Field(
        default="",
        description="Chinese font file for PDF reports and charts (.ttf/.otf/.ttc); empty: found among "
        "the system's fonts, else the subset of Noto Sans CJK SC shipped with yuqing.",
    )
    daily_report_time: str = Field(
        default="17:00",
        description="When `yuqing serve` writes and sends the daily report, on working days (HH:MM, "
        "office time zone); empty: no scheduled reports.",
    )
    daily_report_units: list[str] = Field(
        default_factory=list,
        description="Units (names or ids) that get a scheduled daily report; empty: the top unit of the "
        "organisation.",
    )
    daily_report_format: str = Field(
        default="docx", description="File format of scheduled daily reports: `docx`, `pdf` or `html`."
    )
    public_url: str = Field(
        default="",
        description="Address of the console as people reach it (for links in notifications); empty: "
        "http://HOST:PORT of `yuqing serve`.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("bridge_instances", mode="before")
    @classmethod
    def _bridge_origins(cls, value: object) -> list[str]:
        from urllib.parse import urlsplit

        items = value.replace("，", ",").split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("bridge_instances must be a list of URLs or a comma-separated string")
        origins: list[str] = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            parts = urlsplit(text)
            try:
                valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
            except ValueError:  # a port that is not a number, or out of range
                valid = False
            if not valid:
                raise ValueError(f"bridge instance must be http(s)://host[:port], not {text!r}")
            origins.append(f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}")
        return origins

    @field_validator("daily_report_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        import re

        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"daily_report_time must be HH:MM (e.g. 17:00), not {value!r}")
        return value.strip()

    @field_validator("daily_report_format")
    @classmethod
    def _document_format(cls, value: str) -> str:
        if value not in ("docx", "pdf", "html"):
            raise ValueError(f"daily_report_format must be docx, pdf or html, not {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: Any) -> Settings:
    """Read settings afresh (environment, then yuqing.toml, then defaults)."""
    return Settings(**overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def settings_markdown() -> str:
    """The configuration reference, generated from the field descriptions."""
    lines = [
        "# Configuration",
        "",
        "Every setting can be given as an environment variable `YUQING_<NAME>` (upper case), or as",
        "`name = value` in `yuqing.toml` in the working directory (another file: `YUQING_CONFIG`).",
        "The environment wins over the file; the file wins over the default.",
        "This page is generated by `yuqing settings --markdown`; a test keeps it in step with the code.",
        "",
        "| setting | environment | default | what it does |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        lines.append(f"| `{name}` | `YUQING_{name.upper()}` | `{default!r}` | {field.description} |")
    return "\n".join(lines) + "\n"


# Settings whose values are never printed or shown, only whether they are set.
SECRET_SETTINGS = frozenset({"smtp_password", "admin_password", "metrics_token"})


# Settings holding a URL that may carry credentials (`nats://user:password@host`, or a NATS token
# as `nats://token@host`): shown with the user part masked.
URL_SETTINGS = frozenset({"nats_url"})


def masked_url(value: str) -> str:
    """A URL with whatever stands before ``@`` in its authority replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return "（无法解析）"
    if "@" not in parts.netloc:
        return value
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as `yuqing settings` prints them: secrets replaced, a database password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    values = settings.model_dump()
    for name in SECRET_SETTINGS:
        if values.get(name):
            values[name] = "***"
    for name in URL_SETTINGS:
        if values.get(name):
            values[name] = masked_url(str(values[name]))
    try:
        values["database_url"] = make_url(str(values["database_url"])).render_as_string(hide_password=True)
    except ArgumentError:
        values["database_url"] = "（无法解析）"
    return values
