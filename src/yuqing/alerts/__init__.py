"""Alerts: graded events routed to the responsible unit, told to whoever is on duty, escalated."""
