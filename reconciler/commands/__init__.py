"""What each CLI command does, as plain functions: wire the pipeline's arrows together.

`cli.py` parses flags and renders; these modules load, connect, plan and apply. They may do I/O
(files, HTTP through the client) but hold no business rules of their own.
"""
