"""Send a finished report through the channels of ``settings.delivery``: a folder, a webhook, e-mail.

:func:`deliver_report` never raises: a channel that fails is retried per :class:`~kpi_alignment.delivery_settings.
RetryPolicy`, logged, and returned as a failed :class:`DeliveryResult`, so delivery cannot fail the data run.

Secrets (the webhook URL, which alone lets anyone post, and the SMTP password) are read from the environment at
delivery time and redacted from every result, every log message of this module and every log record that
``requests``/``urllib3`` emit while delivering (urllib3 logs request paths at DEBUG, and a Slack webhook's secret
is its path).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from kpi_alignment.delivery_settings import (
    SUBJECT_FIELDS,
    Delivery,
    EmailDelivery,
    FolderDelivery,
    RetryPolicy,
    WebhookDelivery,
)
from kpi_alignment.report.build import ReportFiles

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
SLACK_TEXT_LIMIT = 40_000
"""Slack truncates a message's ``text`` beyond 40,000 characters; longer summaries are cut here, visibly."""

# Statuses worth another try (RFC 9110 §15.5.9 408, §15.6 5xx; RFC 6585 §4 429; RFC 8470 425); any other non-2xx
# means the request itself is wrong (Slack: 400 invalid_payload, 403 invalid_token, 404 no_service, 410
# channel_is_archived) and repeating it cannot help.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_MIN_FRAGMENT = 4  # shorter URL parts ("/", "a") are not secrets worth mangling every message for


@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of one channel.

    ``channel``: ``folder`` | ``webhook`` | ``email``; ``ok``: delivered; ``attempts``: tries made (0 when the
    channel could not even be prepared, e.g. its environment variable is unset); ``error``: why it failed (secrets
    redacted), None when ok; ``target``: where it went, without secrets (a folder, ``$ENV_VAR``, ``host:port``).
    """

    channel: str
    ok: bool
    attempts: int
    error: str | None
    target: str


class _Permanent(Exception):
    """A failure another attempt cannot fix (refused credentials, a 4xx answer, a missing variable)."""


class _Transient(Exception):
    """A failure worth another attempt whose message needs no exception type (an HTTP 5xx answer)."""


class _Redactor:
    """Replaces every secret, and the URL parts that reveal one, with ``[redacted]``."""

    def __init__(self) -> None:
        self._fragments: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self._fragments.add(secret)

    def add_password(self, username: str, password: str) -> None:
        """A password, and the base64 forms SMTP ``AUTH PLAIN``/``AUTH LOGIN`` put on the wire (RFC 4616, 4954)."""
        self.add(password)
        for raw in (password, f"\0{username}\0{password}"):
            self.add(base64.b64encode(raw.encode("utf-8")).decode("ascii"))

    def add_url(self, url: str) -> None:
        """A secret URL and its parts: urllib3 logs the path, requests' errors name the path and query."""
        self.add(url)
        parts = urlsplit(url)
        path_query = parts.path + (f"?{parts.query}" if parts.query else "")
        for fragment in (path_query, parts.path, parts.query, parts.password or "", url.split("://", 1)[-1]):
            if len(fragment) >= _MIN_FRAGMENT:
                self.add(fragment)

    def __call__(self, text: str) -> str:
        for fragment in sorted(self._fragments, key=len, reverse=True):  # longest first: a URL before its path
            text = text.replace(fragment, REDACTED)
        return text


class _RedactingFilter(logging.Filter):
    """Rewrites a log record's message (and formatted traceback) with secrets redacted; drops nothing."""

    def __init__(self, redact: _Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


@contextlib.contextmanager
def _redacted_logs(redact: _Redactor) -> Iterator[None]:
    # A logger's filters see only records created on that very logger (not those propagating through it), so the
    # filter goes on every requests/urllib3 logger, not just their parents.
    logging.getLogger("urllib3.connectionpool")
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in ("urllib3", "requests")]
    loggers = [logging.getLogger(n) for n in [*names, __name__]]
    flt = _RedactingFilter(redact)
    for logger in loggers:
        logger.addFilter(flt)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(flt)


def deliver_report(
    settings: Delivery,
    files: ReportFiles,
    env: Mapping[str, str] = os.environ,
    *,
    base_dir: Path | None = None,
) -> list[DeliveryResult]:
    """Send one report through every configured channel, in the order folder, webhook, e-mail.

    ``files``: the report's HTML, JSON and Markdown paths plus the Markdown text (:class:`ReportFiles`).
    ``env``: where secrets are looked up (the webhook URL in ``webhook.url_env``, the SMTP password in
    ``email.password_env``). ``base_dir``: what a relative ``folder.path`` is read from (the project directory;
    default the current directory).

    Returns one :class:`DeliveryResult` per configured channel (an empty list when none is configured). Never
    raises for a delivery failure: each channel is tried ``retry.attempts`` times with exponential backoff
    (``retry.backoff_seconds * 2**(n-1)`` after the n-th failure), except failures no retry can fix; every failure
    is logged at WARNING (each attempt) and ERROR (the channel's final failure).
    """
    redact = _Redactor()
    if settings.webhook is not None:
        redact.add_url(env.get(settings.webhook.url_env, ""))
    if settings.email is not None and settings.email.password_env is not None:
        redact.add_password(settings.email.username or "", env.get(settings.email.password_env, ""))

    results: list[DeliveryResult] = []
    with _redacted_logs(redact):
        if settings.folder is not None:
            folder = _folder_target(settings.folder, base_dir)
            results.append(_run("folder", str(folder), settings.retry, redact, lambda: _folder_sender(folder, files)))
        if settings.webhook is not None:
            hook = settings.webhook
            results.append(
                _run(
                    "webhook",
                    f"${hook.url_env}",
                    settings.retry,
                    redact,
                    lambda: _webhook_sender(hook, files, env, redact),
                )
            )
        if settings.email is not None:
            mail = settings.email
            results.append(
                _run(
                    "email", f"{mail.host}:{mail.port}", settings.retry, redact, lambda: _email_sender(mail, files, env)
                )
            )
    return results


def _run(
    channel: str,
    target: str,
    policy: RetryPolicy,
    redact: _Redactor,
    prepare: Callable[[], Callable[[], str]],
) -> DeliveryResult:
    """Prepare a channel once, then send per ``policy``. ``prepare`` returns the send function, which returns a
    short description of what was delivered."""
    try:
        send = prepare()
    except Exception as e:  # a delivery problem must never fail the data run
        error = redact(_describe(e))
        log.error("report delivery by %s to %s not attempted: %s", channel, target, error)
        return DeliveryResult(channel, False, 0, error, target)

    error = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            done = send()
        except _Permanent as e:
            error = redact(str(e))
            log.error("report delivery by %s to %s failed (not retried): %s", channel, target, error)
            return DeliveryResult(channel, False, attempt, error, target)
        except Exception as e:  # a delivery problem must never fail the data run
            error = redact(_describe(e))
            log.warning(
                "report delivery by %s to %s: attempt %d of %d failed: %s",
                channel,
                target,
                attempt,
                policy.attempts,
                error,
            )
            if attempt < policy.attempts:
                time.sleep(policy.backoff_seconds * 2 ** (attempt - 1))
            continue
        log.info("report delivered by %s to %s (%s) after %d attempt(s)", channel, target, redact(done), attempt)
        return DeliveryResult(channel, True, attempt, None, target)
    log.error("report delivery by %s to %s failed after %d attempt(s): %s", channel, target, policy.attempts, error)
    return DeliveryResult(channel, False, policy.attempts, error, target)


def _describe(e: BaseException) -> str:
    if isinstance(e, _Permanent | _Transient):
        return str(e)
    if isinstance(e, smtplib.SMTPResponseException):
        return f"{e.smtp_code} {_text(e.smtp_error)}"
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)


def _secret(env: Mapping[str, str], name: str, purpose: str) -> str:
    value = env.get(name, "")
    if not value:
        raise _Permanent(f"environment variable {name} is not set (it holds {purpose})")
    return value


# --- folder ----------------------------------------------------------------------------------------------------


def _folder_target(settings: FolderDelivery, base_dir: Path | None) -> Path:
    folder = Path(os.path.expanduser(settings.path))  # unlike Path.expanduser, never raises
    return folder if folder.is_absolute() else (base_dir or Path.cwd()) / folder


def _folder_sender(folder: Path, files: ReportFiles) -> Callable[[], str]:
    sources = [files.html, files.json, files.markdown]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise _Permanent(f"report file(s) missing: {', '.join(missing)}")

    def send() -> str:
        folder.mkdir(parents=True, exist_ok=True)
        # dated files first, then latest.*: a reader of the folder never sees a latest.* without its dated copy
        for src in sources:
            _copy_atomic(src, folder / src.name)
        for src in sources:
            _copy_atomic(src, folder / f"latest{src.suffix}")
        return f"{len(sources)} files and latest.*"

    return send


def _copy_atomic(src: Path, dest: Path) -> None:
    if dest.exists() and dest.samefile(src):  # the folder is the reports directory itself
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# --- webhook ---------------------------------------------------------------------------------------------------


def _webhook_sender(
    settings: WebhookDelivery, files: ReportFiles, env: Mapping[str, str], redact: _Redactor
) -> Callable[[], str]:
    url = _secret(env, settings.url_env, "the webhook URL")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise _Permanent(f"environment variable {settings.url_env} does not hold an http(s) URL")
    text = files.markdown_text
    if len(text) > SLACK_TEXT_LIMIT:
        cut = "\n… (cut; the full report is attached to the e-mail or in the report folder)"
        text = text[: SLACK_TEXT_LIMIT - len(cut)] + cut
    request = requests.Request("POST", url, json={"text": text}).prepare()
    if request.url:
        redact.add_url(request.url)  # requests may re-quote the URL; logs and errors show that form

    def send() -> str:
        with requests.Session() as session:
            response = session.send(request, timeout=settings.timeout_seconds, allow_redirects=False)
        if 200 <= response.status_code < 300:
            return f"HTTP {response.status_code}"
        # the answer may name the problem (Slack: invalid_payload, no_service); a redirect's Location may hold the
        # secret, so only the body is quoted, and only its start
        body = response.text.strip()[:200]
        message = f"HTTP {response.status_code} {response.reason}" + (f": {body}" if body else "")
        if response.status_code in _RETRY_STATUSES:
            raise _Transient(message)
        raise _Permanent(message)

    return send


# --- e-mail ----------------------------------------------------------------------------------------------------


def _email_sender(settings: EmailDelivery, files: ReportFiles, env: Mapping[str, str]) -> Callable[[], str]:
    password = (
        _secret(env, settings.password_env, f"the SMTP password of {settings.username}")
        if settings.password_env
        else None
    )
    message = _email_message(settings, files)
    if password is not None and not settings.starttls and settings.host not in ("localhost", "127.0.0.1", "::1"):
        log.warning("e-mail delivery logs in to %s:%d without TLS (starttls: false)", settings.host, settings.port)

    def send() -> str:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            smtp.ehlo()
            if settings.starttls:
                if not smtp.has_extn("starttls"):
                    raise _Permanent(
                        f"{settings.host}:{settings.port} does not offer STARTTLS "
                        "(set starttls: false only for a relay on a trusted network)"
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            try:
                if password is not None:
                    smtp.login(settings.username or "", password)
                refused = smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as e:
                raise _refusal(e.recipients, len(settings.to)) from None
            except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as e:
                raise _Permanent(f"login as {settings.username} refused: {_describe(e)}") from None
            except smtplib.SMTPResponseException as e:
                if e.smtp_code >= 500:  # 5xx: permanent (RFC 5321 §4.2.1); 4xx is worth another try
                    raise _Permanent(_describe(e)) from None
                raise
        if refused:  # accepted for some: sending again would duplicate it for them
            raise _refusal(refused, len(settings.to))
        return f"{len(settings.to)} recipient(s)"

    return send


def _refusal(refused: Mapping[str, tuple[int, bytes]], total: int) -> _Permanent:
    detail = "; ".join(f"{addr}: {code} {_text(reason)}" for addr, (code, reason) in refused.items())
    return _Permanent(f"{len(refused)} of {total} recipient(s) refused: {detail}")


def _email_message(settings: EmailDelivery, files: ReportFiles) -> EmailMessage:
    """The e-mail: Markdown summary as text/plain, the report as text/html alternative, HTML and JSON attached."""
    html = files.html.read_bytes()
    data = files.json.read_bytes()
    message = EmailMessage()
    message["Subject"] = _subject(settings.subject, data)
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    domain = parseaddr(settings.sender)[1].rpartition("@")[2]
    message["Message-ID"] = make_msgid(domain=domain)  # built once: a retry resends the same message, same ID
    message.set_content(files.markdown_text)
    message.add_alternative(html.decode("utf-8"), subtype="html")
    # attached as bytes (base64) so the file arrives byte for byte; the charset tells clients how to show it
    message.add_attachment(html, maintype="text", subtype="html", filename=files.html.name, params={"charset": "utf-8"})
    message.add_attachment(data, maintype="application", subtype="json", filename=files.json.name)
    return message


def _subject(template: str, report_json: bytes) -> str:
    try:
        report: Any = json.loads(report_json)
    except ValueError:
        report = {}
    if not isinstance(report, dict):
        report = {}
    values = {name: str(report.get(name) or "") for name in SUBJECT_FIELDS}
    values["title"] = values["title"] or values["project"] or "KPI alignment report"
    values["evaluation_date"] = values["evaluation_date"] or "undated"
    # a header must be one line: a title with a line break would otherwise be refused (or inject headers)
    return " ".join(template.format(**values).split())
