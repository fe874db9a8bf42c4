"""Apply: blast-radius checks (guard), the executor, and its reports."""
