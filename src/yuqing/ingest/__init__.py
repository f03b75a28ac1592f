"""Ingestion: connectors, normalisation and de-duplication of incoming posts."""
