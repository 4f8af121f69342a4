"""Report delivery against real loopback servers: a Slack-style webhook receiver (http.server) and an SMTP server
(aiosmtpd) with AUTH. Delivery retries per policy, reports failure without raising, and never lets a secret (the
webhook URL, the SMTP password) into a result, a log record or stderr."""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import json
import logging
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from kpi_alignment.delivery_settings import Delivery
from kpi_alignment.project import ProjectError, load_project
from kpi_alignment.report.build import ReportFiles
from kpi_alignment.report.delivery import REDACTED, SLACK_TEXT_LIMIT, DeliveryResult, deliver_report

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "airline"

# Planted secrets: each test asserts these never show up outside the server they are meant for.
HOOK_TOKEN = "T0K3N-hook-9f8e7d6c5b4a"
SMTP_PASSWORD = "pw-S3CRET-4c1d2e"
SMTP_USER = "kpi-bot"
HOOK_ENV = "KPI_ALIGN_SLACK_WEBHOOK"
PASSWORD_ENV = "KPI_ALIGN_SMTP_PASSWORD"


def secret_forms() -> list[str]:
    """The planted secrets as they could leak: raw, and the base64 SMTP AUTH PLAIN/LOGIN put on the wire."""
    plain = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    return [HOOK_TOKEN, SMTP_PASSWORD, base64.b64encode(SMTP_PASSWORD.encode()).decode(), plain]


def assert_no_secret(results: list[DeliveryResult], caplog: pytest.LogCaptureFixture, stderr: str = "") -> None:
    texts = [repr(r) for r in results] + [stderr]
    for record in caplog.records:
        if record.name.startswith("mail.log"):
            continue  # the test SMTP server's own log: the remote side, which must of course see the password
        texts += [record.getMessage(), record.exc_text or ""]
    for secret in secret_forms():
        leaks = [t for t in texts if secret in t]
        assert not leaks, f"secret {secret!r} leaked into: {leaks[:3]}"


@pytest.fixture
def report_files(tmp_path: Path) -> ReportFiles:
    """A small written report, as build_report leaves it."""
    reports = tmp_path / "reports"
    reports.mkdir()
    html = reports / "alignment-2014-01-10-abcd1234.html"
    html.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>KPI alignment</title></head>'
        "<body><h1>New York operations — alignment</h1><p>On-time departures: 81.2 %</p></body></html>",
        encoding="utf-8",
    )
    data = reports / "alignment-2014-01-10-abcd1234.json"
    data.write_text(
        json.dumps(
            {
                "project": "airline",
                "title": "New York ops\nreliability",  # a line break must not reach the Subject header
                "evaluation_date": "2014-01-10",
                "run_id": "abcd1234-run",
            }
        ),
        encoding="utf-8",
    )
    markdown_text = "**New York ops** — data as of 2014-01-10\n- KPIs connected: 91.7% of 12\n"
    md = reports / "alignment-2014-01-10-abcd1234.md"
    md.write_text(markdown_text, encoding="utf-8")
    return ReportFiles(html=html, json=data, markdown=md, markdown_text=markdown_text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # a CI runner's HTTP(S)_PROXY must not swallow requests meant for the loopback servers
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# --- webhook ----------------------------------------------------------------------------------------------------


@dataclass
class Hook:
    """A webhook receiver: answers ``statuses`` in turn (then ``then``), records every POST."""

    statuses: list[tuple[int, str]]
    then: tuple[int, str] = (200, "ok")
    posts: list[tuple[float, str, str, bytes]] = field(default_factory=list)  # time, path, content type, body
    url: str = ""


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(statuses=[])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.posts.append((time.monotonic(), self.path, self.headers.get("Content-Type", ""), body))
            status, text = state.statuses.pop(0) if state.statuses else state.then
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/services/{HOOK_TOKEN}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def webhook_settings(attempts: int = 3, backoff: float = 0.0) -> Delivery:
    return Delivery.model_validate(
        {"webhook": {"url_env": HOOK_ENV}, "retry": {"attempts": attempts, "backoff_seconds": backoff}}
    )


def test_webhook_posts_the_markdown_summary_as_json(
    hook: Hook, report_files: ReportFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    results = deliver_report(webhook_settings(), report_files, {HOOK_ENV: hook.url})

    assert results == [DeliveryResult("webhook", True, 1, None, f"${HOOK_ENV}")]
    [(_, path, content_type, body)] = hook.posts
    assert path == f"/services/{HOOK_TOKEN}"
    assert content_type == "application/json"
    assert json.loads(body) == {"text": report_files.markdown_text}
    # urllib3 logged the request line at DEBUG, with the secret path redacted
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("POST" in m and REDACTED in m for m in urllib3_lines), urllib3_lines
    assert_no_secret(results, caplog)


def test_webhook_url_requoted_by_requests_is_redacted_too(
    hook: Hook, report_files: ReportFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    raw_token, quoted_token = "odd token^7a6b5c", "odd%20token%5E7a6b5c"
    url = hook.url.replace(HOOK_TOKEN, raw_token)
    [result] = deliver_report(webhook_settings(), report_files, {HOOK_ENV: url})

    assert result.ok
    assert hook.posts[0][1] == f"/services/{quoted_token}"  # what went over the wire (and into urllib3's log)
    texts = [repr(result), *(r.getMessage() for r in caplog.records)]
    assert not [t for t in texts if raw_token in t or quoted_token in t]


def test_webhook_failing_twice_with_500_is_delivered_on_the_third_attempt(
    hook: Hook, report_files: ReportFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook.statuses = [(500, "internal error"), (503, "busy")]
    backoff = 0.2
    results = deliver_report(webhook_settings(attempts=3, backoff=backoff), report_files, {HOOK_ENV: hook.url})

    assert results == [DeliveryResult("webhook", True, 3, None, f"${HOOK_ENV}")]
    times = [t for t, *_ in hook.posts]
    assert len(times) == 3
    # exponential backoff: backoff after the first failure, twice that after the second
    assert times[1] - times[0] >= backoff
    assert times[2] - times[1] >= 2 * backoff
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "attempt" in r.getMessage()]
    assert len(warnings) == 2
    assert "attempt 1 of 3 failed: HTTP 500" in warnings[0] and "internal error" in warnings[0]
    assert "attempt 2 of 3 failed: HTTP 503" in warnings[1]
    assert_no_secret(results, caplog)


def test_webhook_that_always_fails_is_reported_not_raised(
    hook: Hook, report_files: ReportFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook.then = (500, "down for maintenance")
    results = deliver_report(webhook_settings(attempts=4, backoff=0.01), report_files, {HOOK_ENV: hook.url})

    [result] = results
    assert (result.channel, result.ok, result.attempts) == ("webhook", False, 4)
    assert result.error == "HTTP 500 Internal Server Error: down for maintenance"
    assert len(hook.posts) == 4
    final = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(final) == 1 and "failed after 4 attempt(s)" in final[0].getMessage()
    assert_no_secret(results, caplog)


def test_webhook_client_error_is_not_retried(hook: Hook, report_files: ReportFiles) -> None:
    hook.then = (404, "no_service")
    [result] = deliver_report(webhook_settings(attempts=3), report_files, {HOOK_ENV: hook.url})
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error == "HTTP 404 Not Found: no_service"
    assert len(hook.posts) == 1


def test_unreachable_webhook_error_hides_the_url(report_files: ReportFiles, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}/services/{HOOK_TOKEN}?key={HOOK_TOKEN}"
    [result] = deliver_report(webhook_settings(attempts=2), report_files, {HOOK_ENV: url})

    assert (result.ok, result.attempts) == (False, 2)
    assert result.error is not None
    assert "ConnectionError" in result.error and "refused" in result.error.lower()
    assert REDACTED in result.error  # requests names the URL path in its message: it is there, redacted
    assert_no_secret([result], caplog)


def test_webhook_without_its_environment_variable_is_not_attempted(report_files: ReportFiles) -> None:
    [result] = deliver_report(webhook_settings(), report_files, {})
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error == f"environment variable {HOOK_ENV} is not set (it holds the webhook URL)"
    [result] = deliver_report(webhook_settings(), report_files, {HOOK_ENV: "hooks.example.com/x"})
    assert result.error == f"environment variable {HOOK_ENV} does not hold an http(s) URL"


def test_long_summary_is_cut_to_the_slack_limit(hook: Hook, report_files: ReportFiles) -> None:
    long = ReportFiles(report_files.html, report_files.json, report_files.markdown, "- KPI line\n" * 10_000)
    [result] = deliver_report(webhook_settings(), long, {HOOK_ENV: hook.url})
    assert result.ok
    text = json.loads(hook.posts[0][3])["text"]
    assert len(text) == SLACK_TEXT_LIMIT
    assert text.startswith("- KPI line\n") and "cut" in text.splitlines()[-1]


# --- e-mail -----------------------------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: stores every message; answers DATA with ``data_replies`` in turn, then 250; refuses the
    recipients in ``refuse``."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.data_replies: list[str] = []
        self.refuse: set[str] = set()
        self.logins: list[str] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append(envelope)
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login.decode())
        ok = data.login.decode() == SMTP_USER and data.password.decode() == SMTP_PASSWORD
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback with AUTH (PLAIN/LOGIN; no TLS on loopback): (mailbox, port)."""
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def email_settings(port: int, *, attempts: int = 3, **overrides: object) -> Delivery:
    mail = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "from": "KPI alignment <kpi@example.com>",
        "to": ["leadership@example.com", "ops@example.com"],
        "username": SMTP_USER,
        "password_env": PASSWORD_ENV,
        "subject": "{title}: data as of {evaluation_date} (run {run_id})",
        "timeout_seconds": 10,
        **overrides,
    }
    return Delivery.model_validate({"email": mail, "retry": {"attempts": attempts, "backoff_seconds": 0.05}})


def test_email_carries_the_html_report_and_both_attachments(
    smtp_server: tuple[Mailbox, int],
    report_files: ReportFiles,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    box, port = smtp_server
    results = deliver_report(email_settings(port), report_files, {PASSWORD_ENV: SMTP_PASSWORD})

    assert results == [DeliveryResult("email", True, 1, None, f"127.0.0.1:{port}")]
    assert box.logins == [SMTP_USER]
    [envelope] = box.messages
    assert envelope.mail_from == "kpi@example.com"
    assert envelope.rcpt_tos == ["leadership@example.com", "ops@example.com"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Subject"] == "New York ops reliability: data as of 2014-01-10 (run abcd1234-run)"
    assert message["From"] == "KPI alignment <kpi@example.com>"
    assert message["To"] == "leadership@example.com, ops@example.com"
    assert message["Message-ID"].endswith("@example.com>")
    html_body = message.get_body(preferencelist=("html",))
    # on the wire every line ends in CRLF and the body in a line break
    assert html_body.get_content().replace("\r\n", "\n").rstrip("\n") == report_files.html.read_text(encoding="utf-8")
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert plain.replace("\r\n", "\n") == report_files.markdown_text
    attachments = {a.get_filename(): a for a in message.iter_attachments()}
    assert list(attachments) == [report_files.html.name, report_files.json.name]
    assert attachments[report_files.html.name].get_content_type() == "text/html"
    assert attachments[report_files.html.name].get_content_charset() == "utf-8"
    assert attachments[report_files.html.name].get_payload(decode=True) == report_files.html.read_bytes()
    assert attachments[report_files.json.name].get_content_type() == "application/json"
    assert attachments[report_files.json.name].get_content() == report_files.json.read_bytes()
    assert_no_secret(results, caplog, capsys.readouterr().err)


def test_email_wrong_password_fails_once_without_showing_it(
    smtp_server: tuple[Mailbox, int], report_files: ReportFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    box, port = smtp_server
    wrong = SMTP_PASSWORD[::-1]
    [result] = deliver_report(email_settings(port), report_files, {PASSWORD_ENV: wrong})

    assert (result.ok, result.attempts) == (False, 1)  # a refused login is not retried
    assert result.error is not None and result.error.startswith(f"login as {SMTP_USER} refused: 535")
    assert box.messages == []
    for text in [result.error, *(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))]:
        assert wrong not in text


def test_email_temporary_refusal_is_retried(smtp_server: tuple[Mailbox, int], report_files: ReportFiles) -> None:
    box, port = smtp_server
    box.data_replies = ["451 4.3.0 try again later"]
    [result] = deliver_report(email_settings(port), report_files, {PASSWORD_ENV: SMTP_PASSWORD})
    assert (result.ok, result.attempts) == (True, 2)
    assert len(box.messages) == 1


def test_email_permanent_refusal_is_not_retried(smtp_server: tuple[Mailbox, int], report_files: ReportFiles) -> None:
    box, port = smtp_server
    box.data_replies = ["554 5.6.0 message rejected", "250 would be accepted"]
    [result] = deliver_report(email_settings(port), report_files, {PASSWORD_ENV: SMTP_PASSWORD})
    assert (result.ok, result.attempts, result.error) == (False, 1, "554 5.6.0 message rejected")
    assert box.messages == []


def test_email_partly_refused_recipients_are_reported(
    smtp_server: tuple[Mailbox, int], report_files: ReportFiles
) -> None:
    box, port = smtp_server
    box.refuse = {"ops@example.com"}
    [result] = deliver_report(email_settings(port), report_files, {PASSWORD_ENV: SMTP_PASSWORD})
    # delivered to leadership, so not sent again (that would duplicate it), but reported
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error == "1 of 2 recipient(s) refused: ops@example.com: 550 5.1.1 no such mailbox"
    assert [m.rcpt_tos for m in box.messages] == [["leadership@example.com"]]


def test_email_requiring_starttls_from_a_server_without_it_fails_clearly(
    smtp_server: tuple[Mailbox, int], report_files: ReportFiles
) -> None:
    box, port = smtp_server
    [result] = deliver_report(email_settings(port, starttls=True), report_files, {PASSWORD_ENV: SMTP_PASSWORD})
    assert (result.ok, result.attempts) == (False, 1)
    assert (
        result.error
        == f"127.0.0.1:{port} does not offer STARTTLS (set starttls: false only for a relay on a trusted network)"
    )
    assert box.logins == [] and box.messages == []


def test_email_without_password_variable_and_unreachable_server(report_files: ReportFiles) -> None:
    port = free_port()
    [result] = deliver_report(email_settings(port), report_files, {})
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error == f"environment variable {PASSWORD_ENV} is not set (it holds the SMTP password of {SMTP_USER})"
    [result] = deliver_report(email_settings(port, attempts=2), report_files, {PASSWORD_ENV: SMTP_PASSWORD})
    assert (result.ok, result.attempts) == (False, 2)
    assert result.error is not None and "ConnectionRefusedError" in result.error


# --- folder and all channels together ---------------------------------------------------------------------------


def test_folder_gets_the_files_and_latest(tmp_path: Path, report_files: ReportFiles) -> None:
    settings = Delivery.model_validate({"folder": {"path": "share/reports"}})
    [result] = deliver_report(settings, report_files, {}, base_dir=tmp_path)

    target = tmp_path / "share" / "reports"
    assert result == DeliveryResult("folder", True, 1, None, str(target))
    for src in (report_files.html, report_files.json, report_files.markdown):
        assert (target / src.name).read_bytes() == src.read_bytes()
        assert (target / f"latest{src.suffix}").read_bytes() == src.read_bytes()
    assert not [p for p in target.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_folder_that_cannot_be_written_is_reported(tmp_path: Path, report_files: ReportFiles) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    settings = Delivery.model_validate({"folder": {"path": str(blocker)}, "retry": {"backoff_seconds": 0}})
    [result] = deliver_report(settings, report_files, {})
    assert (result.ok, result.attempts) == (False, 3)
    assert result.error is not None and result.error.startswith("FileExistsError")
    shutil.rmtree(report_files.html.parent)
    [result] = deliver_report(settings, report_files, {})
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error is not None and result.error.startswith("report file(s) missing:")


def test_every_channel_is_tried_even_when_one_fails(
    tmp_path: Path, hook: Hook, smtp_server: tuple[Mailbox, int], report_files: ReportFiles
) -> None:
    box, port = smtp_server
    hook.then = (500, "down")
    settings = Delivery.model_validate(
        {
            "folder": {"path": str(tmp_path / "out")},
            "webhook": {"url_env": HOOK_ENV},
            "email": email_settings(port).email.model_dump(by_alias=True),
            "retry": {"attempts": 2, "backoff_seconds": 0},
        }
    )
    results = deliver_report(settings, report_files, {HOOK_ENV: hook.url, PASSWORD_ENV: SMTP_PASSWORD})
    assert [(r.channel, r.ok, r.attempts) for r in results] == [
        ("folder", True, 1),
        ("webhook", False, 2),
        ("email", True, 1),
    ]
    assert len(box.messages) == 1
    assert deliver_report(Delivery(), report_files, {}) == []


# --- settings -----------------------------------------------------------------------------------------------------


def project_with_delivery(tmp_path: Path, delivery_yaml: str) -> Path:
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpi-align", "data"))
    settings = root / "kpi-align.yml"
    settings.write_text(settings.read_text(encoding="utf-8") + delivery_yaml, encoding="utf-8")
    return root


def test_delivery_settings_load_from_the_project_file(tmp_path: Path) -> None:
    root = project_with_delivery(
        tmp_path,
        "delivery:\n"
        "  folder: {path: shared/reports}\n"
        f"  webhook: {{url_env: {HOOK_ENV}}}\n"
        "  email:\n"
        "    host: smtp.example.com\n"
        "    from: kpi@example.com\n"
        "    to: [ops@example.com]\n"
        f"    username: {SMTP_USER}\n"
        f"    password_env: {PASSWORD_ENV}\n"
        "  retry: {attempts: 5, backoff_seconds: 1.5}\n",
    )
    delivery = load_project(root).settings.delivery
    assert delivery.folder is not None and delivery.folder.path == "shared/reports"
    assert delivery.webhook is not None and delivery.webhook.url_env == HOOK_ENV
    assert delivery.email is not None
    assert (delivery.email.port, delivery.email.starttls, delivery.email.sender) == (587, True, "kpi@example.com")
    assert (delivery.retry.attempts, delivery.retry.backoff_seconds) == (5, 1.5)
    assert load_project(EXAMPLE).settings.delivery == Delivery()  # no section: nothing sent


def test_a_secret_pasted_into_the_settings_is_refused_without_being_echoed(tmp_path: Path) -> None:
    url = f"https://hooks.slack.com/services/{HOOK_TOKEN}"
    root = project_with_delivery(
        tmp_path,
        "delivery:\n"
        f"  webhook: {{url_env: '{url}'}}\n"
        "  email:\n"
        "    host: smtp.example.com\n"
        "    from: kpi@example.com\n"
        "    to: [ops@example.com]\n"
        f"    username: {SMTP_USER}\n"
        "    password_env: 734529\n"
        "    subject: '{title} {secret}'\n",
    )
    with pytest.raises(ProjectError) as excinfo:
        load_project(root)
    text = str(excinfo.value)
    lines = (root / "kpi-align.yml").read_text(encoding="utf-8").splitlines()
    url_line = next(i for i, line in enumerate(lines, 1) if "url_env" in line)
    assert f"kpi-align.yml:{url_line}" in text
    assert "delivery.webhook.url_env" in text and "delivery.email.password_env" in text
    assert "never the secret itself" in text
    assert "subject placeholder(s) {secret} unknown" in text
    assert HOOK_TOKEN not in text and "734529" not in text
