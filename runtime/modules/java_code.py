"""A module build's Java code: its class files, the functions its descriptor's entry points
name, one class loader per build, and the link check against the host's module API.

Real exports put classes by package path, flat at the root, or as `res/<resource id>.class`;
a class's name is read from its own bytes (the class file's `this_class`), so where it sits
does not matter. An entry point names a function (`functionReference/@targetId`); the function's
name (or the target's name) is the simple or the fully qualified class name. A class whose
bytes are no class file keeps the name its path gives, so that loading it reports the fault.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from sfm_format.schema import safe_xml_parser

DESCRIPTOR_NAME = "module-descriptor.xml"
KERNEL_ENTRY = "agiKernelEntryPoint"
LIFECYCLE_ENTRY = "lifeCycleEntryPoint"
_MAGIC = 0xCAFEBABE
# Classes every JVM has: never "missing" from a module's point of view.
_PLATFORM_PREFIXES = ("java.", "javax.", "jdk.", "sun.", "com.sun.")


class ClassFileError(ValueError):
    """Bytes that are not a class file (or one this reader cannot walk)."""


@dataclass(frozen=True)
class ClassFile:
    name: str  # binary name, e.g. de.vendor.module.CallFunction
    path: str  # where it sits in the build
    data: bytes
    valid: bool  # its bytes parsed as a class file
    references: frozenset[str] = frozenset()  # classes its constant pool names


@dataclass(frozen=True)
class JavaFunction:
    """An entry point's function: the entry kind, its stage and the class that implements it."""

    kind: str  # agiKernelEntryPoint or lifeCycleEntryPoint
    stage: str
    class_name: str


@dataclass
class ModuleCode:
    """What a build's Java part holds, and what is wrong with it (in words)."""

    classes: dict[str, ClassFile] = field(default_factory=dict)
    functions: list[JavaFunction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def functions_at(self, kind: str, stage: str | None = None) -> list[JavaFunction]:
        return [f for f in self.functions if f.kind == kind and (stage is None or f.stage == stage)]


def _constant_pool(data: bytes) -> tuple[list[Any], int]:
    """The constant pool entries (index -> (tag, value)) and the offset after it."""
    if len(data) < 10 or struct.unpack_from(">I", data, 0)[0] != _MAGIC:
        raise ClassFileError("no class file magic")
    count = struct.unpack_from(">H", data, 8)[0]
    pool: list[Any] = [None] * count
    pos = 10
    index = 1
    try:
        while index < count:
            tag = data[pos]
            pos += 1
            if tag == 1:  # Utf8
                length = struct.unpack_from(">H", data, pos)[0]
                pool[index] = (1, data[pos + 2 : pos + 2 + length].decode("utf-8", "replace"))
                pos += 2 + length
            elif tag in (7, 8, 16, 19, 20):  # Class, String, MethodType, Module, Package
                pool[index] = (tag, struct.unpack_from(">H", data, pos)[0])
                pos += 2
            elif tag == 15:  # MethodHandle
                pos += 3
            elif tag in (3, 4, 9, 10, 11, 12, 17, 18):
                pos += 4
            elif tag in (5, 6):  # Long, Double take two slots
                pos += 8
                index += 1
            else:
                raise ClassFileError(f"unknown constant pool tag {tag}")
            index += 1
    except (IndexError, struct.error) as exc:
        raise ClassFileError("the constant pool is cut short") from exc
    return pool, pos


def _utf8(pool: list[Any], index: int) -> str:
    entry = pool[index] if 0 < index < len(pool) else None
    if not entry or entry[0] != 1:
        raise ClassFileError("a class entry does not name a string")
    return str(entry[1])


def read_class(data: bytes, path: str) -> ClassFile:
    """The class in `data` (found at `path`); `valid` False when the bytes are no class file."""
    try:
        pool, pos = _constant_pool(data)
        this_index = struct.unpack_from(">H", data, pos + 2)[0]
        this_entry = pool[this_index]
        if not this_entry or this_entry[0] != 7:
            raise ClassFileError("this_class is not a class entry")
        name = _utf8(pool, this_entry[1]).replace("/", ".")
        references = set()
        for entry in pool:
            if entry and entry[0] == 7:
                referenced = _utf8(pool, entry[1])
                while referenced.startswith("["):
                    referenced = referenced[1:]
                if referenced.startswith("L") and referenced.endswith(";"):
                    referenced = referenced[1:-1]
                if len(referenced) > 1:  # not a primitive array's element
                    references.add(referenced.replace("/", "."))
        references.discard(name)
        return ClassFile(name, path, data, True, frozenset(references))
    except (ClassFileError, struct.error, IndexError):
        stem = path[: -len(".class")] if path.endswith(".class") else path
        return ClassFile(stem.replace("/", "."), path, data, False)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def read_build(build_dir: Path) -> ModuleCode:
    """The Java code of an unpacked build: its classes and its entry points' functions."""
    code = ModuleCode()
    by_path: dict[str, ClassFile] = {}
    for path in sorted(build_dir.rglob("*.class")):
        relative = path.relative_to(build_dir).as_posix()
        if relative.startswith("python/"):
            continue
        cls = read_class(path.read_bytes(), relative)
        by_path[relative] = cls
        if not cls.valid:
            code.problems.append(f"{relative} is not a valid Java class file")
        code.classes.setdefault(cls.name, cls)
    descriptor = build_dir / DESCRIPTOR_NAME
    if not descriptor.is_file():
        code.problems.append(f"{DESCRIPTOR_NAME} is missing")
        return code
    root = etree.fromstring(descriptor.read_bytes(), safe_xml_parser())
    functions = {
        f.get("id"): f.get("name") or ""
        for f in root.iter()
        if isinstance(f.tag, str) and _local(f) == "function"
    }
    files = {
        f.get("name") or "": f.get("id") or ""
        for f in root.iter()
        if isinstance(f.tag, str) and _local(f) == "file"
    }
    entry_parent = next(
        (e for e in root if isinstance(e.tag, str) and _local(e) == "entryPoints"), None
    )
    for entry in entry_parent if entry_parent is not None else ():
        if not isinstance(entry.tag, str):
            continue
        kind = _local(entry)
        if kind not in (KERNEL_ENTRY, LIFECYCLE_ENTRY):
            continue
        stage = entry.get("stage") if kind == KERNEL_ENTRY else None
        reference = None
        for child in entry:
            if not isinstance(child.tag, str):
                continue
            if _local(child) == "stage":
                stage = (child.text or "").strip()
            elif _local(child) == "functionReference":
                reference = child
        if not stage or reference is None:
            continue
        target = reference.get("targetId") or ""
        wanted = functions.get(target) or reference.get("targetName") or target
        found = _find_class(wanted, code.classes.values(), by_path, files)
        if found is None:
            code.problems.append(
                f"the {kind} at stage {stage} names function {wanted!r}, whose class is not "
                "in the module"
            )
            continue
        code.functions.append(JavaFunction(kind, stage, found.name))
    return code


def _find_class(
    wanted: str,
    classes: Iterable[ClassFile],
    by_path: dict[str, ClassFile],
    files: dict[str, str],
) -> ClassFile | None:
    """The class a function name stands for: by full name, by simple name, or as the
    `res/<id>.class` of the resource file `<simple name>.class`."""
    simple = wanted.rsplit(".", 1)[-1]
    pool = list(classes)
    for cls in pool:
        if cls.name == wanted:
            return cls
    matches = [cls for cls in pool if cls.name.rsplit(".", 1)[-1] == simple]
    if len(matches) == 1:
        return matches[0]
    resource_id = files.get(f"{simple}.class")
    if resource_id:
        return by_path.get(f"res/{resource_id}.class")
    return None


def missing_classes(code: ModuleCode, can_load: Any) -> list[str]:
    """Classes the build's classes name that neither the build nor the API (`can_load(name)`)
    offers, sorted: what a real export needs from STARFACE that this host lacks."""
    missing = set()
    for cls in code.classes.values():
        for name in cls.references:
            if name in code.classes or name.startswith(_PLATFORM_PREFIXES):
                continue
            if not can_load(name):
                missing.add(name)
    return sorted(missing)


def class_loader(label: str, code: ModuleCode, api_loader: Any) -> Any:
    """A Java ModuleClassLoader holding the build's classes (parent: `api_loader`)."""
    import jpype

    loader = jpype.JClass("de.sfhost.core.ModuleClassLoader")(label, api_loader)
    byte_array = jpype.JArray(jpype.JByte)
    for cls in code.classes.values():
        loader.add(cls.name, byte_array(cls.data))
    return loader


def java_variables(config: Any) -> Any:
    """An instance's variables as a Java Map (lists as java.util.List of String), for a
    life-cycle function's `@InputVar` fields."""
    import jpype

    java_map = jpype.JClass("java.util.LinkedHashMap")()
    array_list = jpype.JClass("java.util.ArrayList")
    for name, value in dict(config or {}).items():
        if isinstance(value, list | tuple):
            items = array_list()
            for item in value:
                items.add(jpype.JString(str(item)))
            java_map.put(str(name), items)
        elif isinstance(value, bool):
            java_map.put(str(name), jpype.JClass("java.lang.Boolean")(value))
        elif isinstance(value, int | float):
            java_map.put(str(name), jpype.JClass("java.lang.Double")(float(value)))
        elif isinstance(value, str):
            java_map.put(str(name), jpype.JString(value))
    return java_map
