"""Composing an email as MIME and sending it through SES v2 as a raw message.

Raw, not SES's `Simple` content: only raw MIME carries our own headers (List-Unsubscribe per
RFC 8058), a text and an HTML part, and non-ASCII display names and subjects encoded per RFC 2047,
exactly as an inbox will receive them. Addresses go out in their ASCII form (an internationalised
domain as IDNA `xn--` labels): SES does not speak SMTPUTF8, and `email` would otherwise encode
the address itself per RFC 2047 (`user@=?utf-8?b?...?=`), which no server accepts. SES message
tags name shop, campaign and step (and carry the contact and period, encoded to the characters SES
allows) so SES events find their way back.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class Email:
    from_name: str
    from_address: str
    to: str
    subject: str
    text: str
    html: str
    date: datetime
    headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    reply_to: str | None = None

    def mime(self) -> bytes:
        message = EmailMessage(policy=SMTP)
        local, _, domain = self.from_address.partition("@")
        message["From"] = Address(self.from_name, local, domain)
        message["To"] = _header_address(self.to)
        if self.reply_to:
            message["Reply-To"] = _header_address(self.reply_to)
        message["Subject"] = self.subject
        message["Date"] = format_datetime(self.date)
        message["Message-ID"] = make_msgid(domain=domain)
        message["MIME-Version"] = "1.0"
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text, subtype="plain", charset="utf-8", cte="quoted-printable")
        message.add_alternative(self.html, subtype="html", charset="utf-8", cte="quoted-printable")
        return message.as_bytes()


def ascii_address(address: str) -> str:
    """`user@例え.jp` -> `user@xn--r8jz45g.jp`; MailRejected for a mailbox SES cannot deliver to."""
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise MailRejected(f"undeliverable address: {exc}") from None
    return checked.ascii_email or ""


def _header_address(address: str) -> Address:
    local, _, domain = ascii_address(address).rpartition("@")
    return Address(username=local, domain=domain)


class MailThrottled(Exception):
    """SES asked us to slow down: try again in a moment, nothing is lost."""


class MailPaused(MailThrottled):
    """SES will not send for a while, whatever the rate: the account (`scope` "account": paused,
    suspended, daily quota used up) or one shop's sender domain (`scope` "shop"). Retrying within
    seconds would only be refused again. A MailThrottled, so code that only knows throttling
    (privacy exports, task emails) still retries rather than drops."""

    def __init__(self, code: str, scope: str, seconds: int) -> None:
        super().__init__(code)
        self.code = code
        self.scope = scope
        self.seconds = seconds


class MailRejected(Exception):
    """SES refused this message for good (bad address, unverified sender ...)."""


class Mailer(Protocol):
    def send(self, email: Email) -> str:
        """Send; the SES message id. Raises MailThrottled (MailPaused) or MailRejected."""
        ...


# SES v2 error codes that mean "not now, slow down" rather than "never".
THROTTLING = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure"}
)
# SES v2 error codes that mean "not for a while": whom the pause is for and how long before SES is
# asked again. A person has to act on all but the quota (which frees itself over its 24 hours);
# an hour between tries costs one refused call per container and hour, and the sweep, which
# releases held messages, runs hourly anyway.
PAUSE_SECONDS = 3600
PAUSES: dict[str, str] = {
    "SendingPausedException": "account",  # the account's (or the configuration set's) sending paused
    "AccountSuspendedException": "account",
    "LimitExceededException": "account",  # the daily sending quota is used up
    "MailFromDomainNotVerifiedException": "shop",  # this shop's sender domain, not the others'
}


class SesMailer:
    def __init__(self, sesv2: Any, configuration_set: str) -> None:
        self._ses = sesv2
        self._configuration_set = configuration_set

    def send(self, email: Email) -> str:
        from botocore.exceptions import ClientError

        to = ascii_address(email.to)
        try:
            answer = self._ses.send_email(
                FromEmailAddress=email.from_address,
                Destination={"ToAddresses": [to]},
                Content={"Raw": {"Data": email.mime()}},
                EmailTags=[{"Name": k, "Value": v} for k, v in email.tags.items()],
                ConfigurationSetName=self._configuration_set,
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in PAUSES:
                raise MailPaused(code, PAUSES[code], PAUSE_SECONDS) from exc
            if code in THROTTLING:
                raise MailThrottled(code) from exc
            raise MailRejected(code or str(exc)) from exc
        return str(answer["MessageId"])


def tag_value(text: str) -> str:
    """Any text as an SES tag value ([A-Za-z0-9_-] only): unpadded base64url."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def from_tag_value(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"not a tag value of ours: {value!r}") from None
