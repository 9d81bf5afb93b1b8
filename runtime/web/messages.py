"""Refusals from the module manager, the licensing part and the host, in the page's language.

Those parts refuse in English sentences written for the command line (they name flags and
commands). The page shows them without command-line advice, without backticks, and in
German on the German page: a catalogue of the refusals an admin meets on the page, each a
pattern with its German and English sentence. A refusal the catalogue does not know gets a
general sentence for its context in the page's language; its original text stays available,
folded, as the detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.web import i18n


@dataclass(frozen=True)
class Localized:
    """A refusal for the page: `text` in its language; `detail` the original, if untranslated."""

    text: str
    detail: str | None = None


@dataclass(frozen=True)
class _Entry:
    pattern: re.Pattern[str]
    de: str
    en: str


def _entry(pattern: str, de: str, en: str) -> _Entry:
    return _Entry(re.compile(pattern + r"\.?$", re.DOTALL), de, en)


# What an upload refusal says after "FILE: " and before "; nothing was installed".
_UPLOAD_REASONS = [
    _entry(
        r"this is not an \.sfm \(not a ZIP/JAR file\)",
        "Das ist keine .sfm-Datei (keine ZIP/JAR-Datei)",
        "This is not an .sfm file (not a ZIP/JAR file)",
    ),
    _entry(
        r"this is not a readable ZIP/JAR file \((?P<why>.*)\)",
        "Die ZIP/JAR-Datei lässt sich nicht lesen",
        "The ZIP/JAR file cannot be read",
    ),
    _entry(
        r"the file is (?P<size>\d+) bytes, above the limit of (?P<limit>\d+)",
        "Die Datei ist {size} Bytes groß, erlaubt sind höchstens {limit}",
        "The file is {size} bytes, above the limit of {limit}",
    ),
    _entry(
        r"it has no (?P<name>\S+)",
        "Ihr fehlt {name}",
        "It has no {name}",
    ),
    _entry(
        r"this build needs PBX (?P<need>\S+) or newer and this PBX is (?P<have>[^:]+): (?P<x>.*)",
        "Dieser Build braucht PBX {need} oder neuer, diese PBX hat {have}",
        "This build needs PBX {need} or newer; this PBX has {have}",
    ),
    _entry(
        r"it is version (?P<new>\S+) of (?P<name>.+) but version (?P<old>\S+) is installed; "
        r"a downgrade needs --allow-downgrade",
        "Das ist Version {new} von {name}, installiert ist {old}; für eine ältere Version "
        "„Ältere Version zulassen“ ankreuzen",
        "This is version {new} of {name} but {old} is installed; to install an older "
        'version tick "Allow an older version"',
    ),
    _entry(
        r"(?P<x>.*)\(a ZIP bomb\?\)",
        "Die Datei würde beim Entpacken zu groß (ZIP-Bombe?)",
        "The file would unpack to too much (a ZIP bomb?)",
    ),
    _entry(
        r"(?P<x>.*)noLicenseId (?P<y>.*) is wrong for module (?P<z>.*)",
        "Die Lizenzkennung (noLicenseId) passt nicht zum Modul; es bräuchte einen "
        "STARFACE-Lizenzschlüssel",
        "The licence id (noLicenseId) does not fit the module; it would need a STARFACE "
        "licence key",
    ),
    _entry(
        r"(?P<m>\S+) says ObjectId (?P<a>.*) but (?P<d>\S+) says module id (?P<b>.*)",
        "Manifest und Deskriptor nennen verschiedene Modul-IDs",
        "The manifest and the descriptor name different module ids",
    ),
    _entry(
        r"(?P<d>\S+) is not well-formed XML (?P<x>.*)",
        "Der Deskriptor {d} ist kein wohlgeformtes XML",
        "The descriptor {d} is not well-formed XML",
    ),
    _entry(
        r"(?P<d>\S+) breaks the module schema (?P<x>.*)",
        "Der Deskriptor {d} verletzt das Modulschema",
        "The descriptor {d} breaks the module schema",
    ),
    _entry(
        r"StarfaceModule_SpecVersion is (?P<v>\d+); this PBX reads modules up to spec version "
        r"(?P<max>\d+)",
        "Das Modul hat Spec-Version {v}; diese PBX liest Module bis Spec-Version {max}",
        "The module has spec version {v}; this PBX reads modules up to spec version {max}",
    ),
    _entry(
        r"entry (?P<name>'.*') (?P<x>.*)",
        "Der Eintrag {name} im Archiv ist unzulässig",
        "The archive entry {name} is not allowed",
    ),
]

_CATALOGUE = [
    _entry(
        r"(?P<file>.+?) is signed with the development key, which this host trusts only in "
        r"development mode(?P<x>.*)",
        "{file} ist mit dem Entwicklungsschlüssel des Herstellers signiert; diesem Schlüssel "
        "vertraut dieser Host nur im Entwicklungsmodus. Nichts wurde installiert.",
        "{file} is signed with the vendor's development key, which this host trusts only in "
        "development mode. Nothing was installed.",
    ),
    _entry(
        r"(?P<file>[^:]+): a newer version was installed meanwhile; "
        r"a downgrade needs --allow-downgrade",
        "{file}: Inzwischen wurde eine neuere Version installiert; nichts wurde installiert.",
        "{file}: A newer version was installed meanwhile; nothing was installed.",
    ),
    _entry(
        r"module (?P<name>.+) \((?P<id>[^)]+)\) has no previous version to roll back to",
        "Das Modul {name} hat keine vorige Version.",
        "The module {name} has no previous version.",
    ),
    _entry(
        r"module (?P<name>.+): the previous version's files are missing (?P<x>.*)",
        "Die Dateien der vorigen Version von {name} fehlen.",
        "The files of the previous version of {name} are missing.",
    ),
    _entry(
        r"(?:form: )?name: module (?P<module>.+) already has an instance named (?P<name>'[^']*'|"
        r"\"[^\"]*\")(?P<x>.*)",
        "Das Modul {module} hat schon eine Instanz namens {name}; Instanznamen sind je Modul "
        "eindeutig.",
        "The module {module} already has an instance named {name}; instance names are unique "
        "per module.",
    ),
    _entry(
        r"there is no instance with id (?P<id>\d+)",
        "Es gibt keine Instanz {id}.",
        "There is no instance {id}.",
    ),
    _entry(
        r"module_id: there is no runnable module (?P<id>.*)",
        "Es gibt kein lauffähiges Modul {id}.",
        "There is no runnable module {id}.",
    ),
    # licence
    _entry(
        r"the licence service at (?P<server>\S+) refused: field 'code': wrong code "
        r"\((?P<n>\d+) tries left\)",
        "Der Code ist falsch (noch {n} Versuche).",
        "The code is wrong ({n} tries left).",
    ),
    _entry(
        r"the licence service at (?P<server>\S+) refused: field 'code': wrong code(?P<x>.*)",
        "Der Code ist falsch.",
        "The code is wrong.",
    ),
    _entry(
        r"the licence service at (?P<server>\S+) refused: (?P<x>.*locked.*)",
        "Zu viele falsche Codes: diese Anfrage ist gesperrt. Bitte einen neuen Code anfordern.",
        "Too many wrong codes: this request is locked. Please request a new code.",
    ),
    _entry(
        r"the licence service at (?P<server>\S+) cannot be reached (?P<x>.*)",
        "Der Lizenzdienst ist nicht erreichbar; nichts wurde geändert, der Lizenzzustand "
        "bleibt wie er ist.",
        "The licence service cannot be reached; nothing was changed and the licence state "
        "stays as it is.",
    ),
    _entry(
        r"the licence service at (?P<server>\S+) refused: (?P<reason>.*)",
        "Der Lizenzdienst hat abgelehnt.",
        "The licence service refused: {reason}",
    ),
    _entry(
        r"--code: (?P<code>.*) is not the 6-digit code from the e-mail",
        "{code} ist nicht der sechsstellige Code aus der E-Mail.",
        "{code} is not the 6-digit code from the e-mail.",
    ),
    _entry(
        r"no verification is pending for module (?P<id>\S+): (?P<x>.*)",
        "Für dieses Modul läuft keine Verifizierung: bitte zuerst oben mit der "
        "E-Mail-Adresse einen Code anfordern.",
        "No verification is pending for this module: please request a code with your e-mail "
        "address first.",
    ),
    _entry(
        r"--server: (?P<server>.*) is not an http:// or https:// address",
        "{server} ist keine http://- oder https://-Adresse.",
        "{server} is not an http:// or https:// address.",
    ),
    _entry(
        r"(?P<field>[\w-]+): an e-mail address is required",
        "Bitte eine E-Mail-Adresse angeben.",
        "Please give an e-mail address.",
    ),
    _entry(
        r"(?P<field>[\w-]+): (?P<address>.*) is not a valid e-mail address",
        "{address} ist keine gültige E-Mail-Adresse.",
        "{address} is not a valid e-mail address.",
    ),
    _entry(
        r"(?P<field>[\w-]+): the e-mail address contains a line break or control character",
        "Die E-Mail-Adresse enthält einen Zeilenumbruch oder ein Steuerzeichen.",
        "The e-mail address contains a line break or a control character.",
    ),
    _entry(
        r"file: please choose the licence file",
        "Bitte die Lizenzdatei wählen.",
        "Please choose the licence file.",
    ),
    _entry(
        r"(?P<file>[^:]+): not a licence file (?P<x>.*)",
        "{file} ist keine Lizenzdatei.",
        "{file} is not a licence file.",
    ),
    _entry(
        r"(?P<file>[^:]+): the licence's signature does not match (?P<x>.*)",
        "{file}: Die Signatur der Lizenz passt nicht (verändert oder nicht vom Hersteller "
        "dieses Moduls).",
        "{file}: The licence's signature does not match (altered, or not from this module's "
        "vendor).",
    ),
    _entry(
        r"(?P<file>[^:]+): the licence is for module (?P<a>\S+), not for module (?P<b>\S+)",
        "{file}: Die Lizenz gilt für ein anderes Modul.",
        "{file}: The licence is for another module.",
    ),
    _entry(
        r"(?P<file>[^:]+): the licence is for the PBX with hardware id (?P<x>.*)",
        "{file}: Die Lizenz gilt für eine andere PBX.",
        "{file}: The licence is for another PBX.",
    ),
    _entry(
        r"(?P<file>[^:]+): the licence's update entitlement covers builds up to (?P<max>\S+), "
        r"but build (?P<build>\S+) is installed(?P<x>.*)",
        "{file}: Die Lizenz deckt Builds bis {max}, installiert ist {build}: bitte den Kauf "
        "des Updates per E-Mail verifizieren.",
        "{file}: The licence covers builds up to {max}, but build {build} is installed: "
        "please verify the update purchase by e-mail.",
    ),
    # number patterns (the instance form's lists)
    _entry(
        r"(?P<where>[^:]+): (?P<text>'.*') has (?P<ch>'.*'), which is not a digit, \+, \? or \*",
        "{where}: {text} enthält {ch}; erlaubt sind Ziffern, +, ? und *.",
        "{where}: {text} has {ch}, which is not a digit, +, ? or *.",
    ),
    _entry(
        r"(?P<where>[^:]+): (?P<text>'.*') has '\+' after the start; \+ may only be the first "
        r"character",
        "{where}: {text} hat ein + nach dem Anfang; ein + darf nur vorn stehen.",
        "{where}: {text} has a + after the start; + may only be the first character.",
    ),
    _entry(
        r"(?P<where>[^:]+): the pattern (?P<text>'.*') is a lone '\+'",
        "{where}: Das Muster {text} besteht nur aus einem +.",
        "{where}: The pattern {text} is a lone +.",
    ),
    _entry(
        r"(?P<where>[^:]+): the pattern (?P<text>'.*') is empty",
        "{where}: Das Muster {text} ist leer.",
        "{where}: The pattern {text} is empty.",
    ),
    # call tester
    _entry(
        r"no user or group of the PBX directory has the number (?P<number>\S+)",
        "Kein Teilnehmer und keine Gruppe der PBX hat die Nummer {number}.",
        "No user or group of the PBX has the number {number}.",
    ),
    _entry(
        r"(?P<what>called number|caller number) (?P<number>.*) has no digits",
        "{what_de} {number} enthält keine Ziffern.",
        "The {what} {number} has no digits.",
    ),
    _entry(
        r"(?P<what>called number|caller number) (?P<number>'.*') has (?P<bad>'.*'); "
        r"a number is digits with an optional leading \+",
        "{what_de} {number} enthält {bad}; eine Nummer besteht aus Ziffern, vorn darf ein + "
        "stehen.",
        "The {what} {number} has {bad}; a number is digits with an optional leading +.",
    ),
    _entry(
        r"no PBX directory is loaded(?P<x>.*)",
        "Es ist kein PBX-Verzeichnis geladen.",
        "No PBX directory is loaded.",
    ),
]

_WHAT_DE = {"called number": "Die angerufene Nummer", "caller number": "Die Anrufernummer"}

_UPLOAD = re.compile(r"(?P<file>[^:]+): (?P<reason>.*); nothing was installed\.?$", re.DOTALL)


def _fill(template: str, match: re.Match[str]) -> str:
    values = {k: v for k, v in match.groupdict().items() if v is not None}
    if "what" in values:
        values["what_de"] = _WHAT_DE.get(values["what"], values["what"])
    return template.format(**values)


def _pick(entry: _Entry, lang: str) -> str:
    return entry.de if lang == "de" else entry.en


def localize(
    message: str, lang: str, context: str = "common", file_name: str = ""
) -> Localized:
    """The refusal `message` for a page in `lang`.

    `context` ("upload", "licence", "call", "module", "instance", "common") picks the general
    sentence for a refusal the catalogue does not know; `file_name` is the file it is about.
    """
    message = message.strip()
    upload = _UPLOAD.match(message)
    if upload:
        reason = upload.group("reason")
        for entry in _UPLOAD_REASONS:
            found = entry.pattern.match(reason)
            if found:
                text = _fill(_pick(entry, lang), found)
                tail = "nichts wurde installiert" if lang == "de" else "nothing was installed"
                return Localized(f"{upload.group('file')}: {text}; {tail}.")
        return Localized(
            i18n.text("refusal.upload", lang).format(file=upload.group("file")),
            detail=message,
        )
    for entry in _CATALOGUE:
        found = entry.pattern.match(message)
        if found:
            return Localized(_fill(_pick(entry, lang), found))
    general = i18n.text(f"refusal.{context}", lang).format(file=file_name)
    return Localized(general, detail=_without_cli_advice(message))


def translate(message: str, lang: str) -> str:
    """`message` in `lang` where the catalogue knows it, else as it is (without command-line
    advice): for messages shown next to a field, where the original is better than none."""
    localized = localize(message, lang)
    if localized.detail is None:
        return localized.text
    return _without_cli_advice(message.strip())


def _without_cli_advice(message: str) -> str:
    """The original text without backticks and without advice to run a command."""
    message = re.sub(r"[;:,]?\s*(?:run|use) `sfm [^`]*`[^.;]*", "", message)
    return message.replace("`", "")
