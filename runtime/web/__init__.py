"""`sfm serve`: the PBX host's web page for the admin.

- `app.create_app(data_dir)`: the Starlette application (pages, runtime.api's JSON under /api/,
  static files), everything behind `request_checks.RequestChecks` (login session or API token, CSRF
  token, body caps, security headers).
- `auth`: admin password (argon2), one-time setup link, sessions stored hashed in SQLite.
- `csrf`: the per-session token of forms and the `X-CSRF-Token` header; pre-login tokens.
- `pages`: one module per area (modules, instances with the form from the module's descriptor,
  licence, call tester, interventions); `instance_form` places refusals at the field and
  textarea line.
- `interventions`: recording routed calls that an instance let through, per-day SVG chart.
- `i18n`: the page's own texts in German (default) and English.
"""
