"""The directory's SIP fields (sip_password, [[trunks]], [pbx] voicemail), the users' live state
(`sfm pbx user`), Kamailio's generated configuration, and `--sip` refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.errors import Refused
from runtime.pbx_directory import parse_directory_text
from runtime.pbx_live import live_directory
from runtime.sip.kamailio import SipAddress, parse_sip_address, render_config
from tests.data.sfm_crafted import run_sfm

HEAD = """\
[pbx]
version = "8.1.0.4"
country_code = "49"
area_code = "251"
international_prefix = "00"
national_prefix = "0"
"""

USERS = """
[[users]]
id = "boss"
name = "Max Mustermann"
numbers = ["201"]
sip_password = "s3cret-Pw"
redirects.always = { enabled = true, destination = "202" }

[[users]]
id = "sec"
numbers = ["202"]
"""

TRUNK = """
[[trunks]]
id = "carrier"
name = "Carrier"
address = "127.0.0.1:5099"
"""


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_directory_text(text.encode(), "pbx.toml")


def test_sip_fields_are_read() -> None:
    d = parse(HEAD + 'voicemail = "sip:vm@127.0.0.1:5098"\n' + USERS + TRUNK)
    boss = d.user("boss")
    sec = d.user("sec")
    assert boss is not None and boss.sip_password == "s3cret-Pw"
    assert sec is not None and sec.sip_password is None
    assert [(t.id, t.name, t.host, t.port) for t in d.trunks] == [
        ("carrier", "Carrier", "127.0.0.1", 5099)
    ]
    assert d.voicemail == "sip:vm@127.0.0.1:5098"


@pytest.mark.parametrize(
    ("extra", "culprit"),
    [
        (USERS.replace("s3cret-Pw", "a b c"), "users[0] (id 'boss').sip_password"),
        (USERS.replace("s3cret-Pw", "ab\\\\cd"), "users[0] (id 'boss').sip_password"),
        (USERS.replace("s3cret-Pw", "abc"), "sip_password"),
        (
            USERS + TRUNK.replace("127.0.0.1:5099", "localhost:5099"),
            "trunks[0] (id 'carrier').address",
        ),
        (USERS + TRUNK.replace("127.0.0.1:5099", "127.0.0.1:70000"), "address"),
        (USERS + TRUNK + TRUNK.replace('"carrier"', '"other"'), "is also the address of trunks[0]"),
        (USERS + TRUNK.replace('"carrier"', '"boss"'), "'boss' is already used"),
        (USERS + TRUNK.replace('address = "127.0.0.1:5099"\n', ""), "address: is missing"),
        (USERS + TRUNK + "port = 1\n", "trunks[0] (id 'carrier').port: unknown field"),
        ('\n[[users]]\nid = "x"\nsip_password = "secret1"\n', "needs a number to register"),
    ],
)
def test_bad_sip_fields_are_refused_naming_the_field(extra: str, culprit: str) -> None:
    with pytest.raises(Refused) as caught:
        parse(HEAD + extra)
    assert culprit in str(caught.value)


def test_a_bad_voicemail_uri_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        parse(HEAD + 'voicemail = "mailbox 5"\n' + USERS)
    assert "pbx.voicemail" in str(caught.value)


def test_kamailio_configuration_holds_phones_trunks_and_voicemail() -> None:
    d = parse(HEAD + 'voicemail = "sip:vm@127.0.0.1:5098"\n' + USERS + TRUNK)
    text = render_config(
        d, SipAddress("127.0.0.1", 5070), rpc_port=40001, decision_port=40002, event_port=40003
    )
    assert '$sht(pw=>201) = "s3cret-Pw";' in text
    assert "202" not in text.split("event_route[htable:mod-init]")[1].split("}")[0]
    assert 'if ($si == "127.0.0.1" && $sp == 5099)' in text
    assert '$ru = "sip:vm@127.0.0.1:5098";' in text
    assert "listen=udp:127.0.0.1:5070" in text
    # The decision service at its port, asked per INVITE on a kept-alive named connection.
    assert '"httpcon", "decide=>http://127.0.0.1:40002")' in text
    assert '$var(url) = "/decide?caller="' in text
    assert 'http_connect("decide", "$var(url)", "$var(ans)")' in text


@pytest.mark.parametrize(
    "bad", ["5060", "localhost:5060", "127.0.0.1:0", "127.0.0.1:99999", "1.2.3:5"]
)
def test_a_bad_sip_address_is_refused(bad: str) -> None:
    with pytest.raises(Refused) as caught:
        parse_sip_address(bad)
    assert bad in str(caught.value)
    assert parse_sip_address("127.0.0.1:5060") == SipAddress("127.0.0.1", 5060)


def test_sfm_serve_with_a_bad_sip_address_exits_2(tmp_path: Path) -> None:
    code, _, err = run_sfm("--data", tmp_path / "data", "serve", "--port", "0", "--sip", "nowhere")
    assert code == 2 and "--sip 'nowhere'" in err


def _load(tmp_path: Path) -> Path:
    (tmp_path / "pbx.toml").write_text(HEAD + USERS + TRUNK, encoding="utf-8")
    data = tmp_path / "data"
    assert run_sfm("--data", data, "pbx", "load", tmp_path / "pbx.toml")[0] == 0
    return data


def test_sfm_pbx_user_sets_live_dnd_and_redirects(tmp_path: Path) -> None:
    data = _load(tmp_path)
    code, out, err = run_sfm(
        "--data", data, "--json", "pbx", "user", "sec", "--dnd", "on",
        "--redirect", "busy=voicemail", "--redirect", "timeout=00301234567:25",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dnd"] is True
    assert doc["redirects"]["busy"] == {"enabled": True, "destination": "voicemail"}
    assert doc["redirects"]["timeout"] == {
        "enabled": True, "destination": "00301234567", "seconds": 25,
    }  # fmt: skip
    code, out, err = run_sfm("--data", data, "pbx", "user", "boss", "--redirect", "always=off")
    assert code == 0, err
    live = live_directory(data)
    boss, sec = live.user("boss"), live.user("sec")
    assert boss is not None and sec is not None
    assert boss.redirect("always").enabled is False
    assert boss.redirect("always").destination == "202"  # kept for "always=on"
    assert sec.dnd is True
    # `sfm call` routes with the live state: DND on and no TIMEOUT... the timeout fires at once.
    code, out, err = run_sfm("--data", data, "--json", "call", "--from", "201", "--to", "202")
    assert code == 0, err
    assert json.loads(out)["forwarded_to"] == ["00301234567"]
    code, out, err = run_sfm("--data", data, "pbx", "user", "boss", "--redirect", "always=on")
    assert code == 0 and "always -> 202" in out


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["nobody", "--dnd", "on"], "'nobody'"),
        (["sec", "--redirect", "sometimes=202"], "sometimes=202"),
        (["sec", "--redirect", "always=20x2"], "20x2"),
        (["sec", "--redirect", "busy=202:20"], "only a timeout redirect has seconds"),
        (["sec", "--redirect", "timeout=202:0"], "1..600"),
        (["sec", "--redirect", "always=on"], "no always destination"),
    ],
)
def test_refused_user_changes_exit_2_and_change_nothing(
    tmp_path: Path, args: list[str], culprit: str
) -> None:
    data = _load(tmp_path)
    before = live_directory(data)
    code, _, err = run_sfm("--data", data, "pbx", "user", *args)
    assert code == 2 and culprit in err
    assert live_directory(data) == before


def test_loading_a_directory_file_clears_the_live_state(tmp_path: Path) -> None:
    data = _load(tmp_path)
    assert run_sfm("--data", data, "pbx", "user", "sec", "--dnd", "on")[0] == 0
    sec = live_directory(data).user("sec")
    assert sec is not None and sec.dnd
    assert run_sfm("--data", data, "pbx", "load", tmp_path / "pbx.toml")[0] == 0
    sec = live_directory(data).user("sec")
    assert sec is not None and not sec.dnd


def test_every_answer_of_the_decision_service_has_the_shape_kamailio_checks() -> None:
    import re

    from runtime.sip.decision import answer_line

    d = parse(HEAD + USERS + TRUNK)
    text = render_config(
        d, SipAddress("127.0.0.1", 5070), rpc_port=40001, decision_port=40002, event_port=40003
    )
    shape = re.search(r'\$var\(ans\) =~ "([^"]+)"', text)
    assert shape is not None
    for fields in (
        {"act": "plain"},
        {"act": "ring", "aors": "201.202", "users": "boss,sec", "tsec": "20", "tact": "ring"},
        {"act": "forward", "to": "0049301234", "div": "201", "dname": "Max%20Mustermann"},
        {"act": "busy"},
        {"act": "voicemail", "cname": "x%3By"},
    ):
        assert re.match(shape.group(1), answer_line(fields)), fields
    assert not re.match(shape.group(1), "<html>500 things went wrong</html>")
