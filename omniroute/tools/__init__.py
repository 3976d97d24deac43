"""Pointing coding tools at this gateway: each tool's own settings file,
merged with what the user has there, after a backup next to the file.

    toml_edit  the few TOML edits Codex needs, leaving the rest of the file as it was
    files      reading, merging and writing JSON and dotenv files; backups and undo
    writers    one writer per tool: which files, and what goes in them
    setup      plan (the diff), apply (backup, then write) and undo a tool's setup
    copilot    VS Code Copilot's chatLanguageModels.json for the gateway's models
"""
