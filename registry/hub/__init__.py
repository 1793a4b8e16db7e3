"""The Hub side of the registry: client (the one place Hub errors become ours), refs, verify, download, files."""
