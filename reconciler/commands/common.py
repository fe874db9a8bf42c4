"""Pieces every command shares: loading manifests with the common flags, connecting to PostHog
(including `--host local`), the manifest digest, and the fingerprint key."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.commands.options import ManifestOptions
from reconciler.credentials import FINGERPRINT_KEY_ENV
from reconciler.errors import ReconcilerError
from reconciler.manifest.files import collect_files
from reconciler.settings import Settings

if TYPE_CHECKING:
    # Imported where they are used: `plan` and `drift` send their list request before the manifest models and
    # the client's models are loaded (docs/performance.md, "Start-up").
    from reconciler.catalog import Catalog
    from reconciler.manifest.models import DesiredState
    from reconciler.posthog.client import PostHogClient
    from reconciler.posthog.models import LiveState

__all__ = [
    "FINGERPRINT_KEY_ENV",
    "ManifestOptions",
    "catalog_for",
    "connect",
    "fingerprint_key",
    "load_and_list",
    "load_state",
    "manifest_digest",
    "now",
]


def load_state(options: ManifestOptions, env: Mapping[str, str], catalog: Catalog) -> DesiredState:
    """Load and validate manifests (raises ManifestInvalid with every error). Secrets may be absent."""
    from reconciler.commands.context import load_options, validate_options
    from reconciler.manifest import load_desired_state

    if not options.effective_paths:  # never an empty desired state by accident: --prune would delete everything
        raise ReconcilerError("no manifests to read", hint="pass files or directories", reference="no-manifests")
    return load_desired_state(
        options.effective_paths,
        catalog=catalog,
        load_options=load_options(options, env),
        validate_options=validate_options(options),
    )


def catalog_for(spec: str | None, client: PostHogClient | None) -> Catalog:
    """The catalog `--catalog` names (default: `catalog_spec`); `live` is the server's wizard, read through
    `client` (§8.11)."""
    from reconciler.commands.context import catalog_spec
    from reconciler.manifest.catalogs import resolve_catalog

    live = client.wizard if client is not None else None
    return resolve_catalog(catalog_spec(spec, os.environ), live=live)


def load_and_list(
    client: PostHogClient, options: ManifestOptions, env: Mapping[str, str]
) -> tuple[Catalog, DesiredState, LiveState]:
    """The catalog, the manifests loaded against it, and the live sources — listed from the start: the list
    request goes out first and mostly waits on the server while this thread resolves the catalog, imports the
    manifest code and loads (local CPU work). Bad manifests are the error to report, whatever the listing did."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="list") as pool:
        listing = pool.submit(client.fetch_live_state)
        try:
            catalog = catalog_for(options.catalog, client)
            desired = load_state(options, env, catalog)
        except BaseException:
            listing.cancel()
            wait([listing])
            raise
        return catalog, desired, listing.result()


def manifest_digest(paths: Sequence[Path]) -> str:
    """sha256 over each manifest file's name and bytes, in load order: pins what a saved plan came from. Names
    are relative to the directory given (a file given by itself: its own name), so a checkout elsewhere, or
    `manifests/` given as an absolute path, has the same digest."""
    digest = hashlib.sha256()
    for root in paths:
        files, _ = collect_files([root])
        for path in files:
            name = path.relative_to(root) if root.is_dir() else Path(path.name)
            digest.update(name.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def now(env: Mapping[str, str]) -> datetime:
    """The current time, or `SOURCE_DATE_EPOCH` (the reproducible-builds convention) when set: the clock is an
    input like any other, and fixing it makes a saved plan or a drift report byte-identical run after run."""
    if clock_fixed(env):
        return datetime.fromtimestamp(int(env["SOURCE_DATE_EPOCH"].strip()), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def clock_fixed(env: Mapping[str, str]) -> bool:
    """Whether `SOURCE_DATE_EPOCH` fixes the clock (`now`): then no output carries a measured time either."""
    return env.get("SOURCE_DATE_EPOCH", "").strip().isdigit()


def fingerprint_key(env: Mapping[str, str]) -> bytes | None:
    value = env.get(FINGERPRINT_KEY_ENV, "")
    return value.encode("utf-8") if value else None


@contextmanager
def connect(settings: Settings) -> Iterator[PostHogClient]:
    """A client for `settings`; for `--host local`, the embedded emulator is started first."""
    from reconciler.posthog.client import build_client

    if settings.is_local:
        from reconciler.emulator.embedded import embedded_emulator

        with embedded_emulator() as url, build_client(settings, base_url=url) as client:
            yield client
    else:
        with build_client(settings) as client:
            yield client
