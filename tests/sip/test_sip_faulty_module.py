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

from tests.data import faulty_modules
from tests.data.sfm_crafted import run_sfm, sfm_files
from tests.sip.test_sip_calls import Pbx, running_pbx

__all__ = ["sfm_files"]

FAULTY_INSTANCE = 'name = "Faulty"\nactive = true\n'


@pytest.fixture(scope="module")
def pbx(
    tmp_path_factory: pytest.TempPathFactory, sfm_files: dict[str, Path], jvm: None
) -> Iterator[Pbx]:
    def install_the_faulty_module(folder: Path, data: Path) -> None:
        faulty = faulty_modules.build(
            folder / "build-state", faulty_modules.SOURCES / "gil_holding", folder / "faulty"
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

    with running_pbx(tmp_path_factory, sfm_files["current"], install_the_faulty_module) as pbx:
        yield pbx


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
