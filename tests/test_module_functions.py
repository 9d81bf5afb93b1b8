"""The host runs what an installed build declares, and routes around what fails in it.

Modules here are derived from the vendor's Breakthrough build: another module id, and their
own Java classes (compiled against the host's module API) or Python code in place of
Breakthrough's. Calls go through the real Java routing core and the module's class loader.

Over 500 lines on purpose: every case derives its module from the same build with the helpers
below; split, the files would share those helpers through imports between test modules.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from runtime.host import Host, open_host
from runtime.modules import installer, loader
from sfm_build.javac import CompileJob, compile_all
from tests.data.sfm_crafted import (
    MODULE_ID,
    TEAMLEITER_TOML,
    entries,
    no_license_id,
    sfm_files,
    write_zip,
)

__all__ = ["sfm_files"]  # a fixture

REPO = Path(__file__).resolve().parents[1]
OFFICE = REPO / "tests" / "data" / "pbx" / "office.toml"
API = REPO / "runtime" / "jvm_src"
HOOK = "de/obyte/breakthrough/BreakthroughHook.class"

# A kernel function that notes its tag as an applied instance: two modules with this same
# class name must each run their own.
NOTE_SOURCE = """\
package de.probe;

import de.sfhost.module.ext.CallEffects;
import de.vertico.starface.module.core.runtime.IAGIJavaExecutable;
import de.vertico.starface.module.core.runtime.IAGIRuntimeEnvironment;

public class BreakthroughHook implements IAGIJavaExecutable {
    @Override
    public void execute(IAGIRuntimeEnvironment context) throws Exception {
        CallEffects call = context.provider().fetch(CallEffects.class);
        %s
    }
}
"""
START_SOURCE = """\
package de.probe;

import de.vertico.starface.module.core.runtime.IBaseExecutable;
import de.vertico.starface.module.core.runtime.IRuntimeEnvironment;

public class BreakthroughEntryPoint implements IBaseExecutable {
    @Override
    public void execute(IRuntimeEnvironment context) throws Exception {
    }
}
"""


def compile_classes(
    tmp: Path, sources: Mapping[str, str], log_api: str = "log4j"
) -> dict[str, bytes]:
    """Java sources {relative path: text} compiled against the module API (`log_api` flavour)."""
    key = repr((log_api, sorted(sources.items())))
    src = tmp / f"src-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    for relative, text in sources.items():
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        (src / relative).write_text(text, "utf-8")
    job = CompileJob("probe", 11, (src,), log_api)
    return compile_all([job], API)["probe"]


def derived(
    base: Path,
    dst: Path,
    module_id: str,
    *,
    classes: Mapping[str, bytes] | None = None,
    python: Mapping[str, bytes | None] | None = None,
    drop_python: bool = False,
) -> Path:
    """Breakthrough's build as another module: new id, Java classes replaced (when given),
    Python files changed (None: removed) or the whole package dropped."""
    files = entries(base)
    text = files["module-descriptor.xml"].decode()
    last_changed = re.search(r'lastChangedTime="(\d+)"', text)
    assert last_changed is not None
    text = text.replace(MODULE_ID, module_id)
    text = re.sub(
        r"<noLicenseId>[0-9a-f]+</noLicenseId>",
        f"<noLicenseId>{no_license_id(module_id, last_changed.group(1))}</noLicenseId>",
        text,
    )
    files["module-descriptor.xml"] = text.encode()
    files["META-INF/MANIFEST.MF"] = files["META-INF/MANIFEST.MF"].replace(
        MODULE_ID.encode(), module_id.encode()
    )
    # Changed, the vendor's signature no longer holds: an unsigned module (development mode).
    files.pop("META-INF/SFM-SIGNATURE.json", None)
    if classes is not None:
        files = {k: v for k, v in files.items() if not k.endswith(".class")}
        files.update(classes)
    if drop_python:
        files = {k: v for k, v in files.items() if not k.startswith("python/")}
    for name, data in (python or {}).items():
        if data is None:
            files.pop(f"python/breakthrough/{name}", None)
        else:
            files[f"python/breakthrough/{name}"] = data
    return write_zip(dst, files)


def uid(tag: str) -> str:
    """A module id (descriptors take UUIDs) of its own for each probe module."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"probe/{tag}"))


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SFM_DEV", "1")  # the probe modules are unsigned
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(OFFICE, folder / "pbx.toml")
    return folder


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    opened: list[Host] = []
    yield opened
    for host in opened:
        host.close()


def open_(data: Path, hosts: list[Host]) -> Host:
    host = open_host(data, register=False)
    hosts.append(host)
    return host


def teamleiter(data: Path, tmp_path: Path) -> None:
    """Breakthrough's Teamleiter instance, stored as the module manager stores it (its
    variables; here the instance TOML's nested shape, which the module's shim also takes)."""
    import tomllib

    from runtime import db
    from runtime.modules import store

    mapping = tomllib.loads(TEAMLEITER_TOML)
    conn = db.connect(data)
    try:
        with db.transaction(conn):
            store.insert_instance(
                conn,
                module_id=MODULE_ID,
                name=mapping["name"],
                description=mapping["description"],
                log_level="INFO",
                active=True,
                config={k: mapping[k] for k in ("numbers", "settings")},
            )
    finally:
        conn.close()


def test_two_modules_with_the_same_class_names_run_side_by_side(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    for tag in ("alpha", "beta"):
        classes = compile_classes(
            tmp_path,
            {
                "de/probe/BreakthroughHook.java": NOTE_SOURCE
                % f'call.noteApplied("{tag}", "seen");',
                "de/probe/BreakthroughEntryPoint.java": START_SOURCE,
            },
        )
        assert set(classes) == {
            "de/probe/BreakthroughHook.class",
            "de/probe/BreakthroughEntryPoint.class",
        }
        sfm = derived(
            sfm_files["current"],
            tmp_path / f"{tag}.sfm",
            uid(tag),
            classes=classes,
            drop_python=True,
        )
        installer.install(data, sfm)
    host = open_(data, hosts)
    result = host.route("205", "201")
    assert result["module_errors"] == []
    assert sorted(entry["instance"] for entry in result["applied"]) == ["alpha", "beta"]


def test_answer_busy_and_voicemail_end_the_call_so(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    # 202 (the secretary) would ring without a module.
    classes = compile_classes(
        tmp_path,
        {
            "de/probe/BreakthroughHook.java": NOTE_SOURCE
            % 'if ("205".equals(call.getCallerNumber())) { call.answerVoicemail(); }',
            "de/probe/BreakthroughEntryPoint.java": START_SOURCE,
        },
    )
    installer.install(
        data,
        derived(
            sfm_files["current"], tmp_path / "v.sfm", uid("vm"), classes=classes, drop_python=True
        ),
    )
    host = open_(data, hosts)
    assert host.route("205", "202")["outcome"] == "voicemail"
    assert host.route("204", "202")["outcome"] == "ring"
    busy = compile_classes(
        tmp_path,
        {
            "de/probe/BreakthroughHook.java": NOTE_SOURCE
            % 'if ("205".equals(call.getCallerNumber())) { call.answerBusy(); }',
            "de/probe/BreakthroughEntryPoint.java": START_SOURCE,
        },
    )
    installer.install(
        data,
        derived(
            sfm_files["current"], tmp_path / "b.sfm", uid("busy"), classes=busy, drop_python=True
        ),
    )
    host.reload_module(uid("busy"))
    # both asked on one call: busy wins over voicemail
    assert host.route("205", "202")["outcome"] == "busy"


def test_a_corrupt_module_class_is_reported_and_the_call_routes_without_it(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    installer.install(data, sfm_files["current"])
    teamleiter(data, tmp_path)
    build = data / "modules" / MODULE_ID
    [folder] = [p for p in build.iterdir() if p.is_dir()]
    (folder / HOOK).write_bytes((folder / HOOK).read_bytes()[:40])  # cut short on disk
    host = open_(data, hosts)
    result = host.route("201", "203")  # Teamleiter would break through the lead's DND
    assert result["outcome"] == "busy" and result["applied"] == []
    errors = result["module_errors"]
    assert f"{MODULE_ID}: {HOOK} is not a valid Java class file" in errors
    [error] = [e for e in errors if "does not load" in e]
    assert "de.obyte.breakthrough.BreakthroughHook" in error and "ClassFormatError" in error
    assert any("BreakthroughHook" in p for p in host.module_problems(MODULE_ID))
    host.flush_logs()
    log = (data / "logs").rglob("*")
    assert any("ClassFormatError" in p.read_text("utf-8") for p in log if p.is_file())


# The hang needs a short limit to end the test soon; the raising cases get room, since their
# limit also covers starting the module's process, which takes seconds on a loaded machine.
@pytest.mark.parametrize(
    ("name", "code", "expected", "limit"),
    [
        ("sfm_module.py", b"def start(api):\n    raise SystemExit(3)\n", "SystemExit", 20.0),
        ("sfm_module.py", b"raise KeyboardInterrupt('at import')\n", "KeyboardInterrupt", 20.0),
        ("__init__.py", b"import time\ntime.sleep(3600)\n", "did not finish within", 1.0),
    ],
)
def test_python_that_raises_or_hangs_is_reported_and_routed_around(
    jvm: None,
    tmp_path: Path,
    data: Path,
    sfm_files: dict[str, Path],
    hosts: list[Host],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    code: bytes,
    expected: str,
    limit: float,
) -> None:
    monkeypatch.setattr(loader, "TIME_LIMIT", limit)
    monkeypatch.setattr(loader, "IMPORT_TIME_LIMIT", limit)
    module_id = uid(hashlib.sha1(code).hexdigest())
    installer.install(
        data, derived(sfm_files["current"], tmp_path / "p.sfm", module_id, python={name: code})
    )
    host = open_(data, hosts)  # returns although the module's code hangs or exits
    result = host.route("201", "203")
    assert result["outcome"] == "busy" and result["applied"] == []
    assert any(expected in error for error in result["module_errors"]), result
    assert any(expected in p for p in host.module_problems(module_id))


def test_a_hook_raising_system_exit_on_a_call_is_routed_around(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    code = (
        b"class _Hook:\n"
        b"    def set_instances(self, instances, plan):\n        return {}\n"
        b"    def on_call(self, called, caller):\n        raise SystemExit('no')\n"
        b"def start(api):\n    api.register_call_hook(_Hook())\n"
    )
    installer.install(
        data,
        derived(
            sfm_files["current"], tmp_path / "p.sfm", uid("exit"), python={"sfm_module.py": code}
        ),
    )
    host = open_(data, hosts)
    result = host.route("201", "203")
    assert result["outcome"] == "busy"
    [error] = result["module_errors"]
    assert error.startswith(f"{uid('exit')}: hook failed (") and "SystemExit" in error
    assert host.route("201", "203")["outcome"] == "busy"  # and the host goes on


def test_a_java_function_throwing_an_error_is_routed_around(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    classes = compile_classes(
        tmp_path,
        {
            "de/probe/BreakthroughHook.java": NOTE_SOURCE
            % 'call.ignoreDnd(); if (call != null) { throw new StackOverflowError("deep"); }',
            "de/probe/BreakthroughEntryPoint.java": START_SOURCE,
        },
    )
    installer.install(
        data,
        derived(
            sfm_files["current"],
            tmp_path / "e.sfm",
            uid("error"),
            classes=classes,
            drop_python=True,
        ),
    )
    host = open_(data, hosts)
    result = host.route("201", "203")
    assert result["outcome"] == "busy"  # its ignoreDnd before the error does not count
    [error] = result["module_errors"]
    assert uid("error") in error and "StackOverflowError" in error and "deep" in error


def test_breakthrough_routes_through_its_java_function_and_python_shim(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    installer.install(data, sfm_files["current"])
    teamleiter(data, tmp_path)
    host = open_(data, hosts)
    result = host.route("201", "203")
    assert result["outcome"] == "ring" and result["module_errors"] == []
    assert result["applied"] == [
        {"instance": "Teamleiter", "effects": ["bypass_dnd", "bypass_redirects"]}
    ]
    # The hook that answered is the installed build's, reached through its Java class.
    [runtime] = host._modules.values()
    pid = host.module_process_id(MODULE_ID)
    assert pid is not None  # its Python code runs in a process of its own, from the build
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert Path(argv[-1].decode()).is_relative_to(data)
    assert runtime.class_loader is not None
    assert runtime.class_loader.holds("de.obyte.breakthrough.BreakthroughHook")
    assert (
        runtime.function_host.loadProblem(
            runtime.class_loader, "de.obyte.breakthrough.BreakthroughHook"
        )
        is None
    )
    # Removed, its class loader is let go: nothing keeps the build's classes.
    import jpype

    weak = jpype.JClass("java.lang.ref.WeakReference")(runtime.class_loader)
    del runtime
    # Removed: the call routes plainly, and the build's class loader is collected.
    installer.remove(data, MODULE_ID, with_instances=True)
    host.reload_module(MODULE_ID)
    assert host.route("201", "203")["outcome"] == "busy"
    assert host.module_process_id(MODULE_ID) is None
    assert wait_until_gone(pid)  # the build's process was ended
    system = jpype.JClass("java.lang.System")
    for _ in range(50):
        if weak.get() is None:
            break
        system.gc()
        time.sleep(0.05)
    assert weak.get() is None


def wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether process `pid` has ended (and been reaped) within `seconds`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        status = Path(f"/proc/{pid}/status")
        if not status.exists() or "\nState:\tZ" in status.read_text():
            return True
        time.sleep(0.05)
    return False


def test_a_real_export_is_inspect_only_naming_the_starface_classes_it_lacks(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path]
) -> None:
    # A function written for a real STARFACE: it uses ModuleRegistry, which this host lacks.
    stub = "package de.vertico.starface.module.core;\npublic class ModuleRegistry {}\n"
    uses = START_SOURCE.replace(
        "throws Exception {\n",
        "throws Exception {\n        Object r = new de.vertico.starface.module.core"
        ".ModuleRegistry();\n",
    )
    classes = compile_classes(
        tmp_path,
        {
            "de/vertico/starface/module/core/ModuleRegistry.java": stub,
            "de/probe/BreakthroughEntryPoint.java": uses,
            "de/probe/BreakthroughHook.java": NOTE_SOURCE % "",
        },
    )
    del classes["de/vertico/starface/module/core/ModuleRegistry.class"]
    result = installer.install(
        data,
        derived(
            sfm_files["current"], tmp_path / "x.sfm", uid("real"), classes=classes, drop_python=True
        ),
    )
    module = result.to_json()["module"]
    assert module["runnable"] is False
    assert module["status"] == (
        "inspect only: needs de.vertico.starface.module.core.ModuleRegistry"
    )


@pytest.mark.parametrize("place", ["flat", "res"])
def test_classes_are_found_where_real_exports_put_them(
    jvm: None,
    tmp_path: Path,
    data: Path,
    sfm_files: dict[str, Path],
    hosts: list[Host],
    place: str,
) -> None:
    classes = compile_classes(
        tmp_path,
        {
            "de/probe/BreakthroughHook.java": NOTE_SOURCE % 'call.noteApplied("moved", "seen");',
            "de/probe/BreakthroughEntryPoint.java": START_SOURCE,
        },
    )
    moved = {
        (path.rsplit("/", 1)[1] if place == "flat" else f"res/{uuid.uuid4()}.class"): data_
        for path, data_ in classes.items()
    }
    installer.install(
        data,
        derived(
            sfm_files["current"], tmp_path / "m.sfm", uid(place), classes=moved, drop_python=True
        ),
    )
    result = open_(data, hosts).route("205", "201")
    assert result["module_errors"] == []
    assert result["applied"] == [{"instance": "moved", "effects": ["seen"]}]


def test_a_host_running_as_an_old_pbx_gives_modules_commons_logging(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path], hosts: list[Host]
) -> None:
    # PBX 7.0.0.2: the legacy build installs, its functions get commons-logging's Log.
    text = (data / "pbx.toml").read_text("utf-8").replace('"8.1.0.4"', '"7.0.0.2"')
    (data / "pbx.toml").write_text(text, "utf-8")
    classes = compile_classes(
        tmp_path,
        {
            "de/probe/BreakthroughHook.java": NOTE_SOURCE
            % "call.noteApplied(context.getLog() instanceof org.apache.commons.logging.Log"
            ' ? "commons-logging" : "other", "seen");',
            "de/probe/BreakthroughEntryPoint.java": START_SOURCE,
        },
        log_api="commons-logging",
    )
    installer.install(
        data,
        derived(
            sfm_files["legacy"],
            tmp_path / "l.sfm",
            uid("legacy"),
            classes=classes,
            drop_python=True,
        ),
    )
    result = open_(data, hosts).route("205", "201")
    assert result["module_errors"] == []
    assert result["applied"] == [{"instance": "commons-logging", "effects": ["seen"]}]


def test_sfm_call_stays_up_when_a_module_exits_at_import(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path]
) -> None:
    import json

    from tests.data.sfm_crafted import run_sfm

    code = b"raise SystemExit('bye from the module')\n"
    installer.install(
        data,
        derived(
            sfm_files["current"],
            tmp_path / "x.sfm",
            uid("exit-import"),
            python={"__init__.py": code},
        ),
    )
    exit_code, out, err = run_sfm("--data", data, "call", "--from", "201", "--to", "203", "--json")
    assert exit_code == 0, err
    document = json.loads(out)
    assert document["outcome"] == "busy"  # the lead's DND, as without the module
    assert any(
        uid("exit-import") in e and "SystemExit: bye from the module" in e
        for e in document["module_errors"]
    ), document


def test_the_module_list_shows_what_the_running_host_found_wrong(
    jvm: None, tmp_path: Path, data: Path, sfm_files: dict[str, Path]
) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from runtime.api import api_routes

    module_id = uid("listed")
    code = b"def start(api):\n    raise RuntimeError('no hook today')\n"
    installer.install(
        data,
        derived(
            sfm_files["current"], tmp_path / "p.sfm", module_id, python={"sfm_module.py": code}
        ),
    )
    running = open_host(data)  # registered: the API finds it
    try:
        with TestClient(Starlette(routes=api_routes(data))) as client:
            [listed] = client.get("/api/modules").json()
            one = client.get(f"/api/modules/{module_id}").json()
    finally:
        running.close()
    assert listed["id"] == module_id
    assert any("RuntimeError: no hook today" in p for p in listed["problems"]), listed
    assert one["problems"] == listed["problems"]
