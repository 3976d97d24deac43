"""The configuration above the store: typed runtime options with their
checks (``options``), the routing's view of the stored configuration
(``routing``), and the one place that changes it (``editor.ConfigEditor``),
used by the CLI and the management API.

Nothing is imported here, so that the server, which reads the options but
never edits, loads only what it uses.
"""
