"""The environment variables that hold reconciler's own credentials. A leaf: imports nothing internal.

Settings read the API key from one, the fingerprint key comes from the other, and templates must never read
either (`env()`/`secret()` refuse them whatever `--allow-env`/`--allow-secret` say): a manifest is input from
whoever opened the pull request, and these are the keys to the whole PostHog project.
Must not know: anything else in the project.
"""

from __future__ import annotations

__all__ = ["API_KEY_ENV", "FINGERPRINT_KEY_ENV", "OWN_CREDENTIALS"]

API_KEY_ENV = "POSTHOG_PERSONAL_API_KEY"
FINGERPRINT_KEY_ENV = "RECONCILER_FINGERPRINT_KEY"
OWN_CREDENTIALS = frozenset({API_KEY_ENV, FINGERPRINT_KEY_ENV})
