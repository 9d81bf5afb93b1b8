"""A real SIP call while another installed module's hook holds the GIL for good (issue 11).

The faulty module's Python runs in a process of its own, and the decision service answers
Kamailio from the host's JVM: neither needs the GIL that the module never releases, so every
call is decided within Kamailio's budget, with Breakthrough applied, and the stuck module is
reported where the admin looks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.host import open_host
from runtime.sip.front import SipFront
from runtime.sip.kamailio import SipAddress, free_udp_port
from tests.data import faulty_modules
from tests.data.sfm_crafted import run_sfm, sfm_files
from tests.sip.pbx import make_data
from tests.sip.test_sip_calls import Pbx

__all__ = ["sfm_files"]

FAULTY_INSTANCE = 'name = "Faulty"\nactive = true\n'


@pytest.fixture(scope="module")
def pbx(
    tmp_path_factory: pytest.TempPathFactory, sfm_files: dict[str, Path], jvm: None
) -> Iterator[Pbx]:
    with pytest.MonkeyPatch.context() as mp:
        state = tmp_path_factory.mktemp("user-state")
        mp.setenv("SFM_DEV", "1")
        mp.setenv("SFM_STATE_DIR", str(state))
        mp.setenv("SFM_LICENCE_SERVICE", "")
        folder = tmp_path_factory.mktemp("sip-faulty")
        trunk_port = free_udp_port()
        data = make_data(folder, sfm_files["current"], trunk_port)
        faulty = faulty_modules.build(
            state, faulty_modules.SOURCES / "gil_holding", folder / "faulty-dist"
        )
        code, out, err = run_sfm("--data", data, "--json", "module", "install", faulty)
        assert code == 0, err
        (folder / "faulty.toml").write_text(FAULTY_INSTANCE, encoding="utf-8")
        module_id = json.loads(out)["module"]["id"]
        code, _, err = run_sfm(
            "--data", data, "instance", "create", "--module", module_id,
            "--config", folder / "faulty.toml",
        )  # fmt: skip
        assert code == 0, err
        host = open_host(data)
        front = SipFront(host, data, SipAddress("127.0.0.1", free_udp_port()), children=4)
        front.start()
        yield Pbx(folder, host, front, trunk_port)
        front.stop()
        host.close()


def test_calls_are_decided_with_breakthrough_while_a_module_holds_the_gil(pbx: Pbx) -> None:
    faulty = faulty_modules.faulty_id("gil_holding")
    decided, fallbacks = pbx.front.decider.decided, pbx.front.decider.fallbacks
    for _ in range(3):
        dora = pbx.phone("210")
        # Teamleiter lets 205 through 210's DND; without Breakthrough the call would be busy.
        assert pbx.call("205", "210", 200)
        assert dora.wait() == 0 and dora.was_rung()
    # Each call was decided by the core, none rang plainly for want of an answer in time.
    assert pbx.front.decider.decided - decided == 3
    assert pbx.front.decider.fallbacks == fallbacks
    assert "plainly" not in pbx.kamailio_log()
    # The host itself routes on and names the stuck module.
    document = pbx.host.route("205", "210")
    assert document["outcome"] == "ring"
    assert [a["instance"] for a in document["applied"]] == ["Teamleiter"]
    assert any(error.startswith(f"{faulty}: ") for error in document["module_errors"])
