"""The web page's own texts in German (the default) and English, and the request's language.

One table, each text in both languages side by side, so that a translator reads and checks it
in one place. Dates and times as each language writes them: `dates.py`.

The instance form's labels and help texts are not here: they come from the installed
module's descriptor (its resource keys), through `sfm_format.descriptor_form`.
"""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("de", "en")
DEFAULT = "de"
LANG_COOKIE = "sfm_lang"

TEXTS: dict[str, dict[str, str]] = {
    "app.title": {"de": "sfm · PBX-Verwaltung", "en": "sfm · PBX admin"},
    "nav.modules": {"de": "Module", "en": "Modules"},
    "nav.instances": {"de": "Instanzen", "en": "Instances"},
    "nav.licence": {"de": "Lizenz", "en": "Licence"},
    "nav.call": {"de": "Anruftest", "en": "Call test"},
    "nav.interventions": {"de": "Eingriffe", "en": "Interventions"},
    "nav.logout": {"de": "Abmelden", "en": "Log out"},
    "nav.language": {"de": "Sprache", "en": "Language"},
    # login and setup
    "login.title": {"de": "Anmelden", "en": "Log in"},
    "login.username": {"de": "Benutzer", "en": "User"},
    "login.password": {"de": "Passwort", "en": "Password"},
    "login.submit": {"de": "Anmelden", "en": "Log in"},
    "login.wrong": {
        "de": "Benutzer oder Passwort ist falsch.",
        "en": "User name or password is wrong.",
    },
    "login.throttled": {
        "de": "Zu viele Fehlversuche von deiner Adresse. Bitte {seconds} Sekunden warten, "
        "dann erneut versuchen.",
        "en": "Too many failed attempts from your address. Please wait {seconds} seconds, "
        "then try again.",
    },
    "login.no_admin": {
        "de": "Es ist noch kein Passwort gesetzt. Öffne den Einrichtungslink, den der Server "
        "beim Start ausgegeben hat.",
        "en": "No password is set yet. Open the setup link that the server printed when it "
        "started.",
    },
    "login.logged_out": {"de": "Du bist abgemeldet.", "en": "You are logged out."},
    "setup.title": {"de": "Admin-Passwort festlegen", "en": "Set the admin password"},
    "setup.intro": {
        "de": "Dieser Link gilt einmal. Lege das Passwort für den Benutzer „admin“ fest "
        "(mindestens 8 Zeichen).",
        "en": 'This link works once. Set the password of the user "admin" (at least 8 characters).',
    },
    "setup.repeat": {"de": "Passwort wiederholen", "en": "Repeat the password"},
    "setup.submit": {"de": "Passwort setzen", "en": "Set password"},
    "setup.invalid": {
        "de": "Dieser Einrichtungslink ist unbekannt oder wurde schon benutzt.",
        "en": "This setup link is unknown or has been used already.",
    },
    "setup.too_short": {
        "de": "Das Passwort braucht mindestens 8 Zeichen.",
        "en": "The password needs at least 8 characters.",
    },
    "setup.differ": {
        "de": "Die beiden Passwörter stimmen nicht überein.",
        "en": "The two passwords differ.",
    },
    # modules
    "modules.title": {"de": "Module", "en": "Modules"},
    "modules.none": {"de": "Noch kein Modul installiert.", "en": "No module installed yet."},
    "modules.name": {"de": "Name", "en": "Name"},
    "modules.vendor": {"de": "Hersteller", "en": "Vendor"},
    "modules.version": {"de": "Version", "en": "Version"},
    "modules.variant": {"de": "Variante", "en": "Variant"},
    "modules.state": {"de": "Zustand", "en": "State"},
    "modules.instances": {"de": "Instanzen", "en": "Instances"},
    "modules.runnable": {"de": "lauffähig", "en": "runnable"},
    "modules.inspect_only": {
        "de": "nur Ansicht (nicht lauffähig)",
        "en": "inspect only (not runnable)",
    },
    "modules.upload": {"de": "Modul hochladen (.sfm)", "en": "Upload a module (.sfm)"},
    "modules.upload_file": {"de": "Datei", "en": "File"},
    "modules.allow_downgrade": {
        "de": "Ältere Version zulassen (Downgrade)",
        "en": "Allow an older version (downgrade)",
    },
    "modules.upload_submit": {"de": "Hochladen und installieren", "en": "Upload and install"},
    "modules.upload_refused": {
        "de": "Das Modul wurde nicht installiert; es hat sich nichts geändert.",
        "en": "The module was not installed; nothing has changed.",
    },
    "modules.upload_done": {"de": "Installiert", "en": "Installed"},
    "modules.action.installed": {"de": "neu installiert", "en": "newly installed"},
    "modules.action.upgraded": {"de": "aktualisiert", "en": "upgraded"},
    "modules.action.reinstalled": {"de": "neu eingespielt", "en": "reinstalled"},
    "modules.action.downgraded": {"de": "auf ältere Version", "en": "downgraded"},
    "modules.action.unchanged": {"de": "unverändert", "en": "unchanged"},
    "modules.no_file": {"de": "Bitte eine .sfm-Datei wählen.", "en": "Please choose a .sfm file."},
    "modules.inspect": {"de": "Inhalt der Datei", "en": "What the file holds"},
    "modules.detail": {"de": "Details", "en": "Details"},
    "modules.versions": {"de": "Versionen", "en": "Versions"},
    "modules.current": {"de": "aktuell", "en": "current"},
    "modules.installed_at": {"de": "installiert am", "en": "installed at"},
    "modules.rollback": {
        "de": "Auf die vorige Version zurücksetzen",
        "en": "Roll back to the previous version",
    },
    "modules.rolled_back": {"de": "Zurückgesetzt.", "en": "Rolled back."},
    "modules.no_rollback": {
        "de": "Es gibt keine vorige Version.",
        "en": "There is no previous version.",
    },
    "modules.remove": {"de": "Modul entfernen", "en": "Remove module"},
    "modules.removed": {"de": "Modul entfernt.", "en": "Module removed."},
    "modules.remove_confirm": {
        "de": "Modul mit allen Instanzen entfernen?",
        "en": "Remove the module with all its instances?",
    },
    "modules.entry_points": {"de": "Einstiegspunkte", "en": "Entry points"},
    "modules.integrity": {"de": "Prüfungen", "en": "Checks"},
    "modules.files": {"de": "Dateien", "en": "Files"},
    "modules.min_pbx": {"de": "ab PBX-Version", "en": "from PBX version"},
    "modules.spec": {"de": "Spec-Version", "en": "Spec version"},
    "modules.id": {"de": "Modul-ID", "en": "Module id"},
    "modules.changelog": {"de": "Versionshinweise", "en": "Release notes"},
    "modules.to_licence": {"de": "zur Lizenz", "en": "to the licence"},
    "variant.current": {"de": "aktuelle PBX", "en": "current PBX"},
    "variant.legacy": {"de": "ältere PBX", "en": "older PBX"},
    "integrity.manifest_matches_descriptor.ok": {
        "de": "Manifest passt zum Deskriptor",
        "en": "Manifest matches the descriptor",
    },
    "integrity.manifest_matches_descriptor.bad": {
        "de": "Manifest passt nicht zum Deskriptor",
        "en": "Manifest does not match the descriptor",
    },
    "integrity.no_license_id_valid.ok": {
        "de": "Lizenzkennung (noLicenseId) gültig",
        "en": "Licence id (noLicenseId) valid",
    },
    "integrity.no_license_id_valid.bad": {
        "de": "Lizenzkennung (noLicenseId) ungültig",
        "en": "Licence id (noLicenseId) invalid",
    },
    "integrity.resources_complete.ok": {
        "de": "Alle Ressourcen vorhanden",
        "en": "All resources present",
    },
    "integrity.resources_complete.bad": {
        "de": "Ressourcen fehlen",
        "en": "Resources are missing",
    },
    # instances
    "instances.title": {"de": "Instanzen", "en": "Instances"},
    "instances.none": {"de": "Noch keine Instanz.", "en": "No instance yet."},
    "instances.module": {"de": "Modul", "en": "Module"},
    "instances.active": {"de": "aktiv", "en": "active"},
    "instances.inactive": {"de": "inaktiv", "en": "inactive"},
    "instances.new": {"de": "Neue Instanz", "en": "New instance"},
    "instances.create": {"de": "Instanz anlegen", "en": "Create instance"},
    "instances.save": {"de": "Speichern", "en": "Save"},
    "instances.saved": {"de": "Gespeichert.", "en": "Saved."},
    "instances.created": {"de": "Instanz angelegt.", "en": "Instance created."},
    "instances.activate": {"de": "Aktivieren", "en": "Activate"},
    "instances.deactivate": {"de": "Deaktivieren", "en": "Deactivate"},
    "instances.delete": {"de": "Löschen", "en": "Delete"},
    "instances.deleted": {"de": "Instanz gelöscht.", "en": "Instance deleted."},
    "instances.delete_confirm": {"de": "Instanz löschen?", "en": "Delete the instance?"},
    "instances.export": {"de": "Als TOML exportieren", "en": "Export as TOML"},
    "instances.refused": {
        "de": "Nicht gespeichert: bitte die markierten Felder korrigieren.",
        "en": "Not saved: please correct the marked fields.",
    },
    "instances.no_module": {
        "de": "Zuerst ein Modul hochladen, dann Instanzen anlegen.",
        "en": "Upload a module first, then create instances.",
    },
    "instances.line": {"de": "Zeile", "en": "line"},
    "instances.name": {"de": "Name", "en": "Name"},
    "instances.name_help": {
        "de": "Ein eindeutiger Name für diese Instanz.",
        "en": "A unique name for this instance.",
    },
    "instances.description": {"de": "Beschreibung", "en": "Description"},
    "instances.description_help": {
        "de": "Wofür diese Instanz da ist.",
        "en": "What this instance is for.",
    },
    "instances.not_drawn": {
        "de": "dieses Feld kann hier nicht bearbeitet werden.",
        "en": "this field cannot be edited here.",
    },
    "instances.numbers_intro": {
        "de": "Konfiguriere hier welche Ein- und Ausgehenden Nummern vom Modul verwaltet werden "
        "sollen. Die beiden Punkte sind durch ein logisches Und verknüpft. Ist die angerufene "
        "Nummer valide, die Anrufernummer jedoch nicht, wird der Anruf vom Modul ignoriert.",
        "en": "Configure which called and calling numbers the module handles. Both are joined by "
        "a logical AND. If the called number matches but the caller does not, the module "
        "ignores the call.",
    },
    "instances.one_per_line": {"de": "Eine Nummer pro Zeile.", "en": "One number per line."},
    "instances.forms_note": {
        "de": "In den meisten Fällen werden die Rufnummern in das Format 00492515906850 "
        "normalisiert. Es können in Ausnahmefällen aber auch Formate wie +492515906850 oder "
        "02515906850 signalisiert werden. Eine Nummer darf in jeder dieser Formen eingetragen "
        "werden (0049…, +49…, 0…); sie passt auf alle ihre Formen.",
        "en": "Numbers are mostly signalled as 00492515906850, sometimes as +492515906850 or "
        "02515906850. A number may be written in any of these forms (0049…, +49…, 0…); it "
        "matches all its forms.",
    },
    "instances.legend": {"de": "Legende für STARFACE-Wildcards", "en": "STARFACE wildcards"},
    "instances.legend_q": {"de": "Platzhalter für eine Ziffer", "en": "exactly one digit"},
    "instances.legend_star": {
        "de": "Platzhalter für eine, mehrere oder keine Ziffer/n",
        "en": "one, several or no digits",
    },
    "instances.log": {"de": "Log", "en": "Log"},
    "instances.log_refresh": {"de": "Log aktualisieren", "en": "Refresh log"},
    "instances.log_download": {"de": "Log herunterladen", "en": "Download log"},
    "instances.log_note": {
        "de": "Das Log aktualisiert sich nicht automatisch, sondern nur, wenn die entsprechende "
        "Schaltfläche betätigt wird.",
        "en": "The log does not refresh by itself, only when you press the button.",
    },
    "instances.log_empty": {"de": "(noch keine Einträge)", "en": "(no entries yet)"},
    "instances.log_after_save": {
        "de": "Das Log gibt es, sobald die Instanz gespeichert ist.",
        "en": "The log exists once the instance is saved.",
    },
    "instances.requires": {
        "de": "„{field}“ geht nur zusammen mit „{needed}“: bitte „{needed}“ einschalten oder "
        "„{field}“ ausschalten.",
        "en": '"{field}" works only together with "{needed}": switch on "{needed}" or '
        'switch off "{field}".',
    },
    # licence
    "licence.title": {"de": "Lizenz", "en": "Licence"},
    "licence.state": {"de": "Zustand", "en": "State"},
    "licence.trial": {"de": "Testphase", "en": "Trial"},
    "licence.licensed": {"de": "Lizenziert", "en": "Licensed"},
    "licence.expired": {"de": "Abgelaufen", "en": "Expired"},
    "licence.days_left": {"de": "Tage übrig", "en": "days left"},
    "licence.days_left_n": {"de": "noch {n} Tage", "en": "{n} days left"},
    "licence.until": {"de": "bis {date}", "en": "until {date}"},
    "licence.details": {"de": "Lizenzdetails", "en": "Licence details"},
    "licence.advanced": {"de": "Erweitert", "en": "Advanced"},
    "licence.server_help": {
        "de": "Nur ändern, wenn der Hersteller eine andere Adresse nennt.",
        "en": "Change only if the vendor gives another address.",
    },
    "licence.step_code": {"de": "Code eingeben", "en": "Enter the code"},
    "licence.covers": {"de": "Updates", "en": "Updates"},
    "licence.builds_up_to": {"de": "bis Build {build}", "en": "up to build {build}"},
    "licence.email": {"de": "E-Mail", "en": "E-mail"},
    "licence.expires": {"de": "gültig bis", "en": "valid until"},
    "licence.intro": {
        "de": "Wir stellen das Modul 14 Tage kostenfrei zum Testen zur Verfügung. Nach dem Kauf "
        "oder Update: Mit E-Mail-Adresse verifizieren. Für die Inbetriebnahme/das Update ist "
        "kein Lizenzschlüssel nötig.",
        "en": "The module can be tested free of charge for 14 days. After purchase or an "
        "update, verify with your e-mail address. No licence key is needed.",
    },
    "licence.verify": {"de": "Mit E-Mail-Adresse verifizieren", "en": "Verify by e-mail"},
    "licence.verify_submit": {"de": "Code anfordern", "en": "Request code"},
    "licence.verify_sent": {
        "de": "Falls für diese Adresse ein Kauf vorliegt, ist ein Code per E-Mail unterwegs.",
        "en": "If this address has a purchase, a code is on its way by e-mail.",
    },
    "licence.server": {"de": "Lizenzdienst", "en": "Licence service"},
    "licence.code": {"de": "Code aus der E-Mail", "en": "Code from the e-mail"},
    "licence.confirm_submit": {"de": "Code bestätigen", "en": "Confirm code"},
    "licence.confirmed": {"de": "Lizenz übernommen.", "en": "Licence accepted."},
    "licence.import": {"de": "Offline-Lizenz hochladen", "en": "Upload an offline licence"},
    "licence.import_submit": {"de": "Lizenz hochladen", "en": "Upload licence"},
    "licence.imported": {"de": "Lizenz übernommen.", "en": "Licence accepted."},
    "licence.refused": {"de": "Abgelehnt", "en": "Refused"},
    "licence.no_module": {
        "de": "Kein lauffähiges Modul installiert.",
        "en": "No runnable module installed.",
    },
    "licence.unavailable": {
        "de": "Die Lizenzverwaltung ist auf diesem Host noch nicht verfügbar.",
        "en": "Licence handling is not available on this host yet.",
    },
    # call tester
    "call.title": {"de": "Anruftest", "en": "Call test"},
    "call.intro": {
        "de": "Leitet einen Testanruf durch die PBX und alle aktiven Instanzen.",
        "en": "Routes a test call through the PBX and every active instance.",
    },
    "call.from": {"de": "Von (Anrufer)", "en": "From (caller)"},
    "call.to": {"de": "An (angerufene Nummer)", "en": "To (called number)"},
    "call.submit": {"de": "Anruf testen", "en": "Test the call"},
    "call.outcome": {"de": "Ergebnis", "en": "Outcome"},
    "call.rings": {"de": "Es klingelt bei", "en": "Rings at"},
    "call.forwarded_to": {"de": "Umgeleitet an", "en": "Forwarded to"},
    "call.originally_called": {"de": "Ursprünglich angerufen", "en": "Originally called"},
    "call.applied": {"de": "Angewandte Instanzen", "en": "Instances applied"},
    "call.none_applied": {
        "de": "Keine Instanz hat gegriffen.",
        "en": "No instance matched.",
    },
    "call.changed": {"de": "Durchgelassen von", "en": "Let through by"},
    "call.none_changed": {
        "de": "Keine Instanz hat den Anruf verändert.",
        "en": "No instance changed the call.",
    },
    "call.matched_only": {
        "de": "Gegriffen, ohne etwas zu ändern",
        "en": "Matched without changing anything",
    },
    "call.groups": {"de": "Gruppen", "en": "Groups"},
    "call.members": {"de": "Mitglieder", "en": "Members"},
    "call.redirect.always": {"de": "immer", "en": "always"},
    "call.redirect.busy": {"de": "bei besetzt", "en": "when busy"},
    "call.redirect.timeout": {"de": "nach Zeit", "en": "after a timeout"},
    "call.voicemail": {"de": "Mailbox", "en": "voicemail"},
    "call.busy_now": {"de": "besetzt", "en": "busy"},
    "call.module_errors": {"de": "Modulfehler", "en": "Module errors"},
    "call.explanation": {"de": "Erklärung", "en": "Explanation"},
    "call.outcome.ring": {"de": "Es klingelt", "en": "Rings"},
    "call.outcome.waiting": {"de": "Anklopfen", "en": "Call waiting"},
    "call.outcome.forward": {"de": "Umgeleitet", "en": "Forwarded"},
    "call.outcome.busy": {"de": "Besetzt", "en": "Busy"},
    "call.outcome.voicemail": {"de": "Voicemail", "en": "Voicemail"},
    "call.missing": {
        "de": "Bitte Anrufer und angerufene Nummer angeben.",
        "en": "Please give the caller and the called number.",
    },
    "call.pbx": {"de": "PBX-Verzeichnis", "en": "PBX directory"},
    "call.users": {"de": "Teilnehmer", "en": "Users"},
    "call.dnd": {"de": "Ruhe", "en": "DND"},
    "call.redirect": {"de": "Umleitung", "en": "Forward"},
    "effect.bypass_dnd": {"de": "Ruhe umgangen", "en": "DND bypassed"},
    "effect.bypass_redirects": {"de": "Umleitungen umgangen", "en": "forwards bypassed"},
    "effect.bypass_self_redirects_only": {
        "de": "Umleitungen auf den Anrufer umgangen",
        "en": "forwards to the caller bypassed",
    },
    "effect.force_call_waiting": {"de": "Anklopfen erzwungen", "en": "call waiting forced"},
    # interventions
    "bt.title": {"de": "Letzte Eingriffe", "en": "Recent interventions"},
    "bt.intro": {
        "de": "Welche Instanz welchen Anrufer wann zu wem durchgelassen hat: nur Anrufe, die "
        "eine Wirkung der Instanz verändert hat, mit den Wirkungen, die es taten.",
        "en": "Which instance let which caller through to whom, and when: only calls that an "
        "effect of the instance changed, with the effects that did.",
    },
    "bt.none": {"de": "Noch keine Eingriffe.", "en": "No interventions yet."},
    "bt.when": {"de": "Wann", "en": "When"},
    "bt.instance": {"de": "Instanz", "en": "Instance"},
    "bt.caller": {"de": "Anrufer", "en": "Caller"},
    "bt.called": {"de": "Angerufen", "en": "Called"},
    "bt.effects": {"de": "Wirkung", "en": "Effect"},
    "bt.outcome": {"de": "Ergebnis", "en": "Outcome"},
    "bt.chart": {"de": "Eingriffe pro Tag (14 Tage)", "en": "Interventions per day (14 days)"},
    "bt.chart_title": {"de": "Eingriffe pro Tag", "en": "Interventions per day"},
    "bt.source.call test": {"de": "Anruftest", "en": "call test"},
    "bt.source.api call test": {"de": "Anruftest (API)", "en": "call test (API)"},
    # general
    "common.back": {"de": "Zurück", "en": "Back"},
    "common.yes": {"de": "ja", "en": "yes"},
    "common.no": {"de": "nein", "en": "no"},
    "common.not_found": {"de": "Nicht gefunden.", "en": "Not found."},
    "common.error": {"de": "Fehler", "en": "Error"},
    "common.details": {"de": "Originalmeldung", "en": "Original message"},
    "refusal.upload": {
        "de": "{file}: Die Datei wurde abgelehnt; nichts wurde installiert.",
        "en": "{file}: The file was refused; nothing was installed.",
    },
    "refusal.licence": {
        "de": "Die Lizenz wurde nicht übernommen; am Lizenzzustand hat sich nichts geändert.",
        "en": "The licence was not accepted; the licence state has not changed.",
    },
    "refusal.call": {
        "de": "Der Testanruf wurde abgelehnt.",
        "en": "The test call was refused.",
    },
    "refusal.module": {
        "de": "Das ging nicht; am Modul hat sich nichts geändert.",
        "en": "That did not work; the module has not changed.",
    },
    "refusal.instance": {
        "de": "Nicht gespeichert; an der Instanz hat sich nichts geändert.",
        "en": "Not saved; the instance has not changed.",
    },
    "refusal.common": {
        "de": "Abgelehnt; es hat sich nichts geändert.",
        "en": "Refused; nothing has changed.",
    },
    # error pages, sizes, account (issue 11)
    "error.404": {
        "de": "Diese Seite gibt es nicht: {path}",
        "en": "There is no such page: {path}",
    },
    "error.405": {
        "de": "{method} ist auf {path} nicht möglich (erlaubt: {allowed}).",
        "en": "{method} is not possible on {path} (allowed: {allowed}).",
    },
    "error.413": {
        "de": "Die Anfrage ist zu groß: höchstens {limit} auf {path}. Es wurde nichts geändert.",
        "en": "The request is too large: at most {limit} on {path}. Nothing was changed.",
    },
    "error.500": {
        "de": "Ein interner Fehler ist aufgetreten; es wurde nichts geändert. Details stehen "
        "im Protokoll des Servers.",
        "en": "An internal error occurred; nothing was changed. The details are in the "
        "server's log.",
    },
    "error.csrf": {
        "de": "Das CSRF-Token der Anfrage fehlt oder ist falsch; bitte die Seite neu laden.",
        "en": "The request's CSRF token is missing or wrong; reload the page and try again.",
    },
    "error.login": {"de": "Anmeldung nötig.", "en": "Login required."},
    "error.no_module": {"de": "Es gibt kein Modul {id}.", "en": "There is no module {id}."},
    "error.no_instance": {
        "de": "Es gibt keine Instanz {id}.",
        "en": "There is no instance {id}.",
    },
    "nav.account": {"de": "Konto", "en": "Account"},
    "account.title": {"de": "Konto", "en": "Account"},
    "account.password": {"de": "Passwort ändern", "en": "Change the password"},
    "account.current": {"de": "Aktuelles Passwort", "en": "Current password"},
    "account.new": {"de": "Neues Passwort", "en": "New password"},
    "account.repeat": {"de": "Neues Passwort wiederholen", "en": "Repeat the new password"},
    "account.save": {"de": "Passwort ändern", "en": "Change password"},
    "account.changed": {
        "de": "Das Passwort ist geändert; alle anderen Sitzungen sind beendet.",
        "en": "The password is changed; every other session has ended.",
    },
    "account.tokens": {"de": "API-Tokens", "en": "API tokens"},
    "account.tokens_intro": {
        "de": "Skripte senden den Kopf „Authorization: Bearer <Token>“; ein Token wird nur "
        "einmal angezeigt.",
        "en": "Scripts send the header \"Authorization: Bearer <token>\"; a token is shown only "
        "once.",
    },
    "account.token_name": {"de": "Name", "en": "Name"},
    "account.token_create": {"de": "Token erzeugen", "en": "Create token"},
    "account.token_revoke": {"de": "Widerrufen", "en": "Revoke"},
    "account.token_created": {
        "de": "Neues Token (jetzt kopieren, es wird nicht wieder angezeigt):",
        "en": "New token (copy it now, it is not shown again):",
    },
    "account.token_revoked": {"de": "Das Token ist widerrufen.", "en": "The token is revoked."},
    "account.created_at": {"de": "Erzeugt", "en": "Created"},
    "account.last_used": {"de": "Zuletzt benutzt", "en": "Last used"},
}


def language(request: Request) -> str:
    """The language of this request: the language cookie, else German."""
    chosen = request.cookies.get(LANG_COOKIE, DEFAULT)
    return chosen if chosen in LANGUAGES else DEFAULT


def text(key: str, lang: str) -> str:
    """The UI text `key` in `lang`; the key itself if there is no such text (visible, not fatal)."""
    entry = TEXTS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry[DEFAULT]


def localized(mapping: dict[str, str], lang: str) -> str:
    """Pick `lang` from a {de, en} mapping such as a form label."""
    return mapping.get(lang) or mapping.get(DEFAULT) or next(iter(mapping.values()), "")
