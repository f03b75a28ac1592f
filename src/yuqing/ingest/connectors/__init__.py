"""Source connectors (RSS/Atom, web pages, JSON APIs; files and webhooks arrive through ingest)."""
