"""Where a finished report goes: the ``delivery:`` section of ``kpi-align.yml``.

Every channel is optional; a project without ``delivery:`` only writes ``<output_dir>/reports/``. Secrets are never
written in the project: the webhook URL (itself a secret: whoever has it can post) and the SMTP password are read at
delivery time from the environment variables *named* here. Example::

    delivery:
      folder: {path: /srv/share/kpi-reports}
      webhook: {url_env: KPI_ALIGN_SLACK_WEBHOOK}
      email:
        host: smtp.example.com
        port: 587
        starttls: true
        from: KPI alignment <kpi@example.com>
        to: [leadership@example.com, ops@example.com]
        username: kpi-bot
        password_env: KPI_ALIGN_SMTP_PASSWORD
        subject: "{title}: data as of {evaluation_date}"
      retry: {attempts: 3, backoff_seconds: 2}

:func:`kpi_alignment.report.delivery.deliver_report` sends a report through every configured channel.
"""

from __future__ import annotations

import re
import string
from email.utils import parseaddr
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

SUBJECT_FIELDS = ("title", "project", "evaluation_date", "run_id")
"""Placeholders an e-mail ``subject`` may use, filled from the report's JSON."""


class _Strict(BaseModel):
    # A value typed where an environment variable NAME belongs may be the secret itself: keep every input out of
    # validation messages (ProjectError would print them).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, populate_by_name=True)


def _env_name(value: object) -> str:
    # Runs before type checks, so a number pasted here (a PIN, a password) is not echoed by a type error either.
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        # no value in the message: it may be the webhook URL or password, pasted by mistake
        raise ValueError(
            "must be the NAME of an environment variable (upper-case letters, digits and _, "
            "e.g. KPI_ALIGN_SLACK_WEBHOOK), never the secret itself"
        )
    return value


def _address(value: str) -> str:
    _, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or any(c.isspace() for c in addr):
        raise ValueError(f"'{value}' is not an e-mail address (name@domain or 'Name <name@domain>')")
    return value


EnvVarName = Annotated[str, BeforeValidator(_env_name)]
EmailAddress = Annotated[str, AfterValidator(_address)]


class FolderDelivery(_Strict):
    """Copy the report's HTML, JSON and Markdown files (and refresh ``latest.*``) into a folder, e.g. a share."""

    path: str = Field(
        min_length=1,
        description="Target folder; created if missing. A relative path is read from the project directory.",
    )


class WebhookDelivery(_Strict):
    """POST ``{"text": <Markdown summary>}`` to a Slack-compatible incoming webhook."""

    url_env: EnvVarName = Field(description="Environment variable holding the webhook URL (the URL is a secret).")
    timeout_seconds: float = Field(10.0, gt=0, description="Per-attempt timeout of the HTTP request, in seconds.")


class EmailDelivery(_Strict):
    """Send the report over SMTP: HTML body, the HTML and JSON files attached, the Markdown as plain-text part."""

    host: str = Field(min_length=1, description="SMTP server host name.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port: 587 submission with STARTTLS, 25 relay.")
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS before logging in (required).")
    sender: EmailAddress = Field(alias="from", description="From address, e.g. 'KPI alignment <kpi@example.com>'.")
    to: list[EmailAddress] = Field(min_length=1, description="Recipients.")
    username: str | None = Field(None, description="SMTP login; needs password_env.")
    password_env: EnvVarName | None = Field(None, description="Environment variable holding the SMTP password.")
    subject: str = Field(
        "{title}: data as of {evaluation_date}",
        description="Subject template; placeholders: " + ", ".join(f"{{{f}}}" for f in SUBJECT_FIELDS) + ".",
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Socket timeout of the SMTP connection, in seconds.")

    @field_validator("subject")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(v) if name is not None]
        except ValueError as e:
            raise ValueError(f"subject '{v}' is not a valid template: {e} (write {{{{ for a literal brace)") from e
        unknown = [n for n in names if n not in SUBJECT_FIELDS]
        if unknown:
            raise ValueError(
                f"subject placeholder(s) {', '.join('{' + n + '}' for n in unknown)} unknown; "
                f"use {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}"
            )
        return v

    @model_validator(mode="after")
    def _login_pair(self) -> EmailDelivery:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together: set both to log in, or neither")
        return self


class RetryPolicy(_Strict):
    """How often a failed delivery is tried again: ``attempts`` in all, waiting ``backoff_seconds * 2**(n-1)``
    after the n-th failure (exponential backoff)."""

    attempts: int = Field(3, ge=1, le=10, description="Tries per channel, including the first.")
    backoff_seconds: float = Field(2.0, ge=0, le=300, description="Wait after the first failure; doubles each time.")


class Delivery(_Strict):
    """The ``delivery:`` section: channels a finished report is sent through (each optional) and the retry policy.

    A failed channel never fails the data run: it is logged and reported in the result list.
    """

    folder: FolderDelivery | None = None
    webhook: WebhookDelivery | None = None
    email: EmailDelivery | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
