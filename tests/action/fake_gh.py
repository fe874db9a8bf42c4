#!/usr/bin/env python3
"""A stand-in for the `gh` CLI, test-only: the few calls action/reconciler-action.sh makes, against comments and
issues kept in a JSON file ($FAKE_GH_STATE). Every call is recorded. Comment lists are served two per page, as
`gh api --paginate` prints them (concatenated JSON arrays), so the script's paging is exercised. Anything else
exits 64, so a new call in the script fails its test instead of passing silently."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

BOT = {"login": "github-actions[bot]"}


def _flags(argv: list[str], *names: str) -> tuple[dict[str, list[str]], list[str]]:
    """`--name value` pairs (and `-F value`) plus the positional words."""
    flags: dict[str, list[str]] = {}
    rest: list[str] = []
    it = iter(argv)
    for word in it:
        if word in names:
            flags.setdefault(word, []).append(next(it))
        elif word == "--paginate":
            flags["--paginate"] = ["1"]
        else:
            rest.append(word)
    return flags, rest


def _body(flags: dict[str, list[str]]) -> str:
    if "--body-file" in flags:
        return Path(flags["--body-file"][0]).read_text(encoding="utf-8")
    if "--body" in flags:
        return flags["--body"][0]
    for value in flags.get("-F", []):
        key, _, raw = value.partition("=")
        if key == "body":
            return Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
    raise SystemExit("fake gh: no body")


def api(state: dict[str, Any], argv: list[str]) -> None:
    flags, (path,) = _flags(argv, "--method", "-F")
    method = flags.get("--method", ["GET"])[0]
    if m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/(\d+)/comments", path):
        pr = m.group(1)
        if method == "GET":
            comments = [c for c in state["comments"] if c["issue"] == pr]
            pages = [comments[i : i + 2] for i in range(0, len(comments), 2)] or [[]]
            print("".join(json.dumps(page) for page in pages))
            return
        if method == "POST":
            state["next_id"] += 1
            state["comments"].append({"id": state["next_id"], "issue": pr, "user": BOT, "body": _body(flags)})
            print(json.dumps({"id": state["next_id"]}))
            return
    if (m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/comments/(\d+)", path)) and method == "PATCH":
        (comment,) = [c for c in state["comments"] if c["id"] == int(m.group(1))]
        comment["body"] = _body(flags)
        print(json.dumps({"id": comment["id"]}))
        return
    raise SystemExit(64)


def issue(state: dict[str, Any], argv: list[str]) -> None:
    verb, *rest = argv
    flags, words = _flags(
        rest, "--repo", "--label", "--state", "--json", "--limit", "--title", "--body", "--body-file", "--comment"
    )
    flags.pop("--repo", None)
    issues = state["issues"]
    if verb == "list":
        wanted = [i for i in issues if flags["--label"][0] in i["labels"] and i["state"] == flags["--state"][0]]
        fields = flags["--json"][0].split(",")
        print(json.dumps([{f: i[f] for f in fields} for i in wanted]))
    elif verb == "create":
        number = len(issues) + 1
        issues.append(
            {
                "number": number,
                "title": flags["--title"][0],
                "labels": flags["--label"],
                "state": "open",
                "body": _body(flags),
                "comments": [],
            }
        )
        print(f"https://github.com/org/repo/issues/{number}")
    else:
        (number,) = words
        (found,) = [i for i in issues if i["number"] == int(number)]
        if verb == "edit":
            found["body"] = _body(flags)
        elif verb == "comment":
            found["comments"].append(_body(flags))
        elif verb == "close":
            found["state"] = "closed"
            found["comments"].extend(flags.get("--comment", []))
        else:
            raise SystemExit(64)


def main() -> None:
    path = Path(os.environ["FAKE_GH_STATE"])
    empty = {"comments": [], "issues": [], "labels": [], "next_id": 100}
    state = json.loads(path.read_text()) if path.exists() else empty
    argv = sys.argv[1:]
    state.setdefault("calls", []).append(argv)
    command, rest = argv[0], argv[1:]
    if command == "api":
        api(state, rest)
    elif command == "issue":
        issue(state, rest)
    elif command == "label":
        parser = argparse.ArgumentParser()
        parser.add_argument("verb")
        parser.add_argument("name")
        state["labels"].append(parser.parse_known_args(rest)[0].name)
    else:
        raise SystemExit(64)
    path.write_text(json.dumps(state))


if __name__ == "__main__":
    main()
