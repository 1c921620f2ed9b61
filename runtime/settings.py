"""Every setting of a minwon process, read from the environment in one place.

An entry point (`worker.py`, `python -m web`, `minwon admin …`, the projections'
runner) calls `Settings.load()` once and hands the result, or a part of it, to what
it builds; nothing below reads the environment itself. A value that does not parse
stops the process at once with the variable's name and what it should look like,
before anything is opened or written.

The typed fields are minwon's own process settings. `env` keeps the whole
environment as it was read, for the parts that are configured by a family of
variables parsed where they are used: the event store (eventsourcing's
`PERSISTENCE_MODULE`, `SQLITE_DBNAME`, `POSTGRES_*`), the keys (`MINWON_KEK*`,
`MINWON_PAYLOAD_*`, `MINWON_SIGNING_*`, `MINWON_ACTOR_KEY`), Temporal
(`TEMPORAL_*`), the mail and SMS channels and the residents' rate limits.

This module sits below everything else (it imports pydantic alone), so any layer
may take a `Settings` without an import cycle. The `minwon` command's HTTP client
(`cli/remote.py`) is the one other reader: it is a separate program that needs two
variables (`MINWON_URL`, `MINWON_TOKEN`) and must start fast, without pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runtime.paths import VAR

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# What a worker process polls Temporal for (`runtime.worker.build_worker`).
WorkerRole = Literal["all", "workflows", "activities"]
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class SettingsError(Exception):
    """A setting that does not parse; the message names the variable."""


def _flag(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={text!r}: write one of on/off, yes/no, true/false, 1/0")


class Settings(BaseModel):
    """The settings of one process. `load` reads them; tests build one from a dict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: dict[str, str] = Field(default_factory=dict)
    log_level: LogLevel = "INFO"
    # The worker also serves the pages and the API (`--web`; `--dev` always does).
    serve_web: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    activity_threads: int = Field(default=16, ge=1, le=512)
    workflow_cache: int = Field(default=200, ge=0)
    # How many task polls each worker keeps open at once, for workflow tasks and for
    # activity tasks each (the SDK's default, 5; it takes no fewer than 2 for workflow
    # tasks). 2 and 5 made no difference at a deadline peak that runs could tell apart.
    task_polls: int = Field(default=5, ge=2, le=100)
    # How long a workflow task waits for this worker, which holds the case in its
    # cache, before the server hands it to any worker with the whole history (the
    # SDK's sticky schedule-to-start timeout, 10 s by default). At a deadline peak the
    # wait is the queue: a shorter limit sends the late tasks round a second time
    # and makes the peak longer. After a worker is killed, the tasks already queued
    # for it wait this long (bench/README.md, "an eighth session").
    sticky_seconds: float = Field(default=60.0, ge=1, le=600)
    # `workflows`: workflow tasks and the store's steps in them (local activities);
    # `activities`: the other activities (notices, sweeps); `all`: both.
    worker_role: WorkerRole = "all"
    # Run workflow code in the Temporal SDK's sandbox (the tests do; see decision 0011).
    workflow_sandbox: bool = False
    # Off only for a Temporal server without schedules (the time-skipping test server).
    schedules: bool = True
    # Where residents reach the pages: the links in survey invitations.
    public_url: str = "http://127.0.0.1:8000"
    outbox: Path = VAR / "outbox.jsonl"
    checkpoint_file: Path = VAR / "checkpoints.jsonl"
    checkpoint_events: int = Field(default=1000, ge=1)
    checkpoint_minutes: float = Field(default=60.0, gt=0)
    reconcile_minutes: float = Field(default=10.0, gt=0)
    restore_limit: int = Field(default=3, ge=1)
    trusted_proxies: tuple[str, ...] = ()
    var: Path = VAR

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("write the address residents open, like https://minwon.example.org")
        return value.rstrip("/")

    @property
    def has_payload_key(self) -> bool:
        """Whether Temporal payload keys are configured; without one only the embedded
        stack's key file is used (a development installation)."""
        return bool(self.env.get("MINWON_PAYLOAD_KEY"))

    def with_env(self, **changes: str) -> Settings:
        """The same settings with some variables of `env` set (tests, a child process)."""
        return self.model_copy(update={"env": {**self.env, **changes}})

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ`, by default this process's environment."""
        env = dict(os.environ if environ is None else environ)
        given: dict[str, Any] = {"env": env}
        problems: list[str] = []
        for field, (name, parse) in _VARIABLES.items():
            text = env.get(name)
            if text is None or text.strip() == "":
                continue
            try:
                given[field] = parse(text, name)
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise SettingsError("; ".join(problems))
        try:
            return cls(**given)
        except ValidationError as error:
            names = {field: name for field, (name, _) in _VARIABLES.items()}
            raise SettingsError(
                "; ".join(
                    f"{names.get(str(item['loc'][0]), item['loc'][0])}="
                    f"{env.get(names.get(str(item['loc'][0]), ''), '')!r}: {item['msg']}"
                    for item in error.errors()
                )
            ) from None


def _text(text: str, name: str) -> str:
    return text.strip()


def _number(kind: type[int] | type[float]) -> Any:
    def parse(text: str, name: str) -> int | float:
        try:
            return kind(text.strip())
        except ValueError:
            raise ValueError(
                f"{name}={text!r}: write a {'whole ' if kind is int else ''}number"
            ) from None

    return parse


def _level(text: str, name: str) -> str:
    return text.strip().upper()


def _word(text: str, name: str) -> str:
    return text.strip().lower()


def _list(text: str, name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _path(text: str, name: str) -> Path:
    return Path(text.strip())


# field: (variable, parser); pydantic then checks the parsed value's range.
_VARIABLES: dict[str, tuple[str, Any]] = {
    "log_level": ("MINWON_LOG_LEVEL", _level),
    "serve_web": ("MINWON_SERVE_WEB", _flag),
    "web_host": ("MINWON_WEB_HOST", _text),
    "web_port": ("MINWON_WEB_PORT", _number(int)),
    "activity_threads": ("MINWON_ACTIVITY_THREADS", _number(int)),
    "workflow_cache": ("MINWON_WORKFLOW_CACHE", _number(int)),
    "task_polls": ("MINWON_TASK_POLLS", _number(int)),
    "sticky_seconds": ("MINWON_STICKY_SECONDS", _number(float)),
    "worker_role": ("MINWON_WORKER_ROLE", _word),
    "workflow_sandbox": ("MINWON_WORKFLOW_SANDBOX", _flag),
    "schedules": ("MINWON_RETENTION_SCHEDULE", _flag),
    "public_url": ("MINWON_PUBLIC_URL", _text),
    "outbox": ("MINWON_OUTBOX", _path),
    "checkpoint_file": ("MINWON_CHECKPOINT_FILE", _path),
    "checkpoint_events": ("MINWON_CHECKPOINT_EVENTS", _number(int)),
    "checkpoint_minutes": ("MINWON_CHECKPOINT_MINUTES", _number(float)),
    "reconcile_minutes": ("MINWON_RECONCILE_MINUTES", _number(float)),
    "restore_limit": ("MINWON_RESTORE_LIMIT", _number(int)),
    "trusted_proxies": ("MINWON_TRUSTED_PROXIES", _list),
}
