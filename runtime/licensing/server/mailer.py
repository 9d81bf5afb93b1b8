"""The verification mail: one MIME message in German and English, sent with smtplib."""

from __future__ import annotations

import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from runtime.licensing.email_address import normalise_email
from runtime.licensing.server.codes import CODE_TTL_SECONDS

DEFAULT_SENDER = "lizenz@o-byte.com"
SENDER_NAME = "o-byte.com Lizenzservice"

BODY = """\
Guten Tag,

Ihr Bestätigungscode für die Lizenz des Moduls {module} lautet:

    {code}

Geben Sie ihn innerhalb von {minutes} Minuten auf der Anlage ein
(sfm licence confirm --code {code}). Für die Inbetriebnahme oder das Update ist
kein Lizenzschlüssel nötig. Haben Sie keinen Code angefordert, können Sie diese
E-Mail ignorieren.

-- English --

Hello,

your verification code for the licence of the module {module} is:

    {code}

Enter it on the PBX within {minutes} minutes (sfm licence confirm --code {code}).
No licence key is needed to start or update the module. If you did not ask for
a code, you can ignore this e-mail.

o-byte.com Lizenzservice / licence service
"""


def verification_message(
    to: str, code: str, module_name: str, sender: str = DEFAULT_SENDER
) -> EmailMessage:
    """The mail carrying `code` to `to` (validated again here: no header injection)."""
    recipient = normalise_email(to, "recipient")
    local, _, domain = sender.partition("@")
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(SENDER_NAME, local, domain)
    message["To"] = recipient
    message["Subject"] = (
        f"Ihr Bestätigungscode für {module_name} / Your verification code for {module_name}"
    )
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        BODY.format(module=module_name, code=code, minutes=CODE_TTL_SECONDS // 60),
        charset="utf-8",
    )
    message["Content-Language"] = "de, en"  # after set_content, which resets Content-*
    return message


def send(message: EmailMessage, host: str, port: int, timeout: float = 20.0) -> None:
    """Hand `message` to the SMTP server at host:port."""
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(message)
