"""baresip as a real SIP phone for the tests: its own config folder, registers through Kamailio
with its digest password, rings (manual answer) and writes what happens to its output file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from runtime.sip.kamailio import DOMAIN, free_udp_port

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"

CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{port}
sip_transports\t\tudp
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\taufile.so
module_app\t\taccount.so
module_app\t\tmenu.so
audio_player\t\taufile,/dev/null
audio_source\t\tausine,440
audio_alert\t\taufile,/dev/null
"""


class Baresip:
    """One baresip registered as `user` at Kamailio on `sip_port`."""

    def __init__(self, folder: Path, user: str, password: str, sip_port: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config").write_text(CONFIG.format(port=free_udp_port()), encoding="utf-8")
        (folder / "accounts").write_text(
            f"<sip:{user}@{DOMAIN}>;auth_pass={password};"
            f'outbound="sip:127.0.0.1:{sip_port}";regint=600;answermode=manual\n',
            encoding="utf-8",
        )
        self.output_path = folder / "output.txt"
        with open(self.output_path, "w") as out:
            self.proc = subprocess.Popen(
                [BARESIP, "-f", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
