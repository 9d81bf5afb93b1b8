"""The PBX of the SIP tests: directory, Breakthrough instances, and a running host with Kamailio."""

from __future__ import annotations

from pathlib import Path

from tests.data.sfm_crafted import run_sfm

PASSWORDS = {n: f"pw-{n}-secret" for n in ("201", "202", "205", "210", "220", "230", "240",
                                          "250", "270")}  # fmt: skip


def directory_text(trunk_port: int, voicemail: str | None = None) -> str:
    vm = f'voicemail = "{voicemail}"\n' if voicemail else ""
    return f"""\
[pbx]
version = "8.1.0.4"
country_code = "49"
area_code = "251"
international_prefix = "00"
national_prefix = "0"
{vm}
[[users]]
id = "boss"
name = "Max Mustermann"
numbers = ["201", "00492515906201"]
sip_password = "{PASSWORDS["201"]}"
redirects.always = {{ enabled = true, destination = "202" }}

[[users]]
id = "sec"
name = "Erika Sekretariat"
numbers = ["202"]
sip_password = "{PASSWORDS["202"]}"

[[users]]
id = "lead"
name = "Lena Lead"
numbers = ["205"]
sip_password = "{PASSWORDS["205"]}"

[[users]]
id = "dora"
name = "Dora Ruhe"
numbers = ["210"]
dnd = true
sip_password = "{PASSWORDS["210"]}"

[[users]]
id = "fritz"
name = "Fritz Fern"
numbers = ["220"]
sip_password = "{PASSWORDS["220"]}"
redirects.always = {{ enabled = true, destination = "0049301234567" }}

[[users]]
id = "tim"
name = "Tim Zeit"
numbers = ["230"]
sip_password = "{PASSWORDS["230"]}"
redirects.timeout = {{ enabled = true, destination = "202", seconds = 2 }}

[[users]]
id = "bea"
name = "Bea Besetzt"
numbers = ["240"]
sip_password = "{PASSWORDS["240"]}"
redirects.busy = {{ enabled = true, destination = "202" }}

[[users]]
id = "carl"
name = "Carl Gespraech"
numbers = ["250"]
call_waiting = false
sip_password = "{PASSWORDS["250"]}"

[[users]]
id = "nopw"
name = "Norbert Ohne"
numbers = ["260"]

[[users]]
id = "gina"
name = "Gina Gruppe"
numbers = ["270"]
sip_password = "{PASSWORDS["270"]}"

[[groups]]
id = "support"
name = "Support"
numbers = ["300"]
members = ["sec", "gina"]

[[trunks]]
id = "carrier"
name = "Carrier"
address = "127.0.0.1:{trunk_port}"
"""


# The two Breakthrough instances, as `sfm instance create` options.
SEKRETARIAT = (
    "--name", "Sekretariat", "--called", "201", "--caller", "202",
    "--bypass-redirects", "--bypass-self-redirects-only",
)  # fmt: skip
TEAMLEITER = (
    "--name", "Teamleiter", "--called", "210", "--called", "250", "--called", "300",
    "--caller", "205", "--bypass-dnd", "--force-call-waiting",
)  # fmt: skip


def make_data(folder: Path, sfm: Path, trunk_port: int) -> Path:
    """A data folder with the directory loaded, Breakthrough installed, two instances."""
    data = folder / "data"
    (folder / "pbx.toml").write_text(directory_text(trunk_port), encoding="utf-8")
    assert run_sfm("--data", data, "pbx", "load", folder / "pbx.toml")[0] == 0
    assert run_sfm("--data", data, "module", "install", sfm)[0] == 0
    for options in (SEKRETARIAT, TEAMLEITER):
        code, _, err = run_sfm("--data", data, "instance", "create", *options)
        assert code == 0, err
    return data

