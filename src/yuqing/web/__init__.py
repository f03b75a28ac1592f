"""The HTTP API and console: routers and templates only; all work is done by domain services."""
