"""The `/_emulator/` control API (mounted only with `--control`): `traffic` edits statistics, faults and rate
limits; `world` edits schema health, simulated upstream tables and teams' CDC flags.

Never under `/api/`: nothing a PostHog client can reach.
"""
