"""Drills: a scenario (an incident's posts with their times, injects, subjects to score) replayed
as a clearly marked exercise through the real pipeline, worked by the team, scored from the
record. See docs/drills.md.

This package's `__init__` imports nothing, so that the alerts and cases domains can ask
`yuqing.drills.policy` about a drill without importing the drill service (which imports them).
"""
