"""The configuration above the store: typed runtime options with their
checks (``options``), the routing's view of the stored configuration
(``routing``), and the one place that changes it (``editor.ConfigEditor``,
which also writes the audit log: ``audit``), used by the CLI and the
management API. The rules both callers share live beside it: adding and
changing providers and accounts (``providers``), combo targets
(``combos``), settings by name (``setting_keys``), how things are shown
(``describe``) with their secrets masked (``redact``).

Nothing is imported here, so that the server, which reads the options but
never edits, loads only what it uses.
"""
