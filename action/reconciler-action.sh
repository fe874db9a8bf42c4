#!/usr/bin/env bash
# The logic of the reconciler GitHub Action (action.yml at the repository root calls it; docs/github-action.md
# documents the inputs). Three subcommands, one per step of the action:
#
#   install  a virtualenv under $RUNNER_TEMP with the pinned reconciler, put on $GITHUB_PATH
#   run      reconciler COMMAND with the inputs; never fails on reconciler's own exit code — it writes
#            exit-code, changes, report, plan-file and artifact to $GITHUB_OUTPUT (the action fails afterwards)
#   post     the report as ONE pull-request comment (plan) or ONE open issue (drift), or a new one per run
#
# Inputs arrive as INPUT_* environment variables (set by action.yml). The comment and issue are found by a
# hidden first line naming the command and environment, so a matrix of environments keeps one each. Talks to
# GitHub only through `gh`; reads JSON with python3 (no jq needed).
set -euo pipefail

marker() { echo "<!-- reconciler-action: ${INPUT_COMMAND:?}${INPUT_ENVIRONMENT:+ $INPUT_ENVIRONMENT} -->"; }
outputs() { cat >> "${GITHUB_OUTPUT:-/dev/null}"; }

# Words of a shell-syntax string, one per line, without running anything in it (no eval).
split_words() {
  python3 -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' "$1"
}

# From a stream of JSON arrays (gh api --paginate), print FIELD of the first item whose body starts with
# MARKER (and, for comments, that the Actions bot wrote).
first_match() {
  python3 -c '
import json, sys
field, marker, author = sys.argv[1:4]
text, decoder, at = sys.stdin.read(), json.JSONDecoder(), 0
while at < len(text):
    if text[at].isspace():
        at += 1
        continue
    page, at = decoder.raw_decode(text, at)
    for item in page:
        login = (item.get("user") or item.get("author") or {}).get("login", "")
        if (item.get("body") or "").startswith(marker) and (not author or login in (author, author.removesuffix("[bot]"))):
            print(item[field])
            sys.exit(0)
' "$@"
}

install() {
  local venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/reconciler-venv" spec="${GITHUB_ACTION_PATH:?}"
  if [ -n "${INPUT_VERSION:-}" ]; then spec="posthog-reconciler==$INPUT_VERSION"; fi
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
  echo "$venv/bin" >> "${GITHUB_PATH:-/dev/null}"
  "$venv/bin/reconciler" --version
}

run() {
  local command="${INPUT_COMMAND:?}" env_name="${INPUT_ENVIRONMENT:-}" plan_file="${INPUT_PLAN_FILE:-plan.json}"
  local out="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/reconciler-action" suffix="" code=0
  local -a paths=() extra=() env_flag=() hint=()
  [ -n "${INPUT_DIRECTORY:-}" ] && read -r -a paths <<< "$INPUT_DIRECTORY"
  [ -n "${INPUT_ARGS:-}" ] && mapfile -d '' -t extra < <(split_words "$INPUT_ARGS")
  if [ -n "$env_name" ]; then env_flag=(--env "$env_name"); suffix="-$env_name"; fi
  mkdir -p "$out"
  local report="$out/$command$suffix.md" errors="$out/$command$suffix.err"
  local artifact="${INPUT_ARTIFACT:-reconciler-plan$suffix}"
  [ "$artifact" = none ] && artifact=""

  case "$command" in
    plan)
      if [ -n "$artifact" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
        local run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
        hint=(--full-plan-hint "the \`$artifact\` artifact of [this run]($run_url)")
      fi
      reconciler plan "${paths[@]}" "${env_flag[@]}" --format markdown --out "$plan_file" --detailed-exitcode \
        "${hint[@]}" "${extra[@]}" > "$report" 2> "$errors" || code=$?
      ;;
    drift)
      reconciler drift "${paths[@]}" "${env_flag[@]}" --format markdown --output "$report" "${extra[@]}" \
        2> "$errors" || code=$?
      ;;
    apply)
      if [ -f "$plan_file" ]; then paths=("$plan_file"); fi
      reconciler apply "${paths[@]}" "${env_flag[@]}" --auto-approve "${extra[@]}" > "$report" 2> "$errors" || code=$?
      ;;
    validate)
      reconciler validate "${paths[@]}" "${env_flag[@]}" "${extra[@]}" > "$report" 2> "$errors" || code=$?
      ;;
    *)
      echo "::error::unknown command '$command': use plan, apply, drift or validate"
      exit 1
      ;;
  esac

  cat "$errors" >&2
  if [ "$code" = 1 ] && [ ! -s "$report" ]; then
    # No report (invalid manifests, PostHog unreachable): the errors are the report.
    { printf '### reconciler %s failed\n\n```\n' "$command"; cat "$errors"; printf '```\n'; } > "$report"
  fi
  cat "$report"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$report" >> "$GITHUB_STEP_SUMMARY"; fi
  {
    echo "exit-code=$code"
    echo "changes=$([ "$code" = 2 ] && echo true || echo false)"
    echo "report=$report"
    if [ "$command" = plan ]; then
      echo "plan-file=$plan_file"
      if [ "$code" != 1 ] && [ -n "$artifact" ]; then echo "artifact=$artifact"; fi
    fi
  } | outputs
}

post_plan() {
  local repo="${GITHUB_REPOSITORY:?}" body="$1" id=""
  if [ -z "${PR_NUMBER:-}" ]; then
    echo "Not a pull request: no plan comment."
    return 0
  fi
  if [ "${INPUT_COMMENT:-update}" = update ]; then
    id=$(gh api "repos/$repo/issues/$PR_NUMBER/comments" --paginate | first_match id "$(marker)" "github-actions[bot]")
  fi
  if [ -n "$id" ]; then
    gh api --method PATCH "repos/$repo/issues/comments/$id" -F "body=@$body" > /dev/null
    echo "Updated the plan comment on pull request #$PR_NUMBER."
  else
    gh api --method POST "repos/$repo/issues/$PR_NUMBER/comments" -F "body=@$body" > /dev/null
    echo "Commented the plan on pull request #$PR_NUMBER."
  fi
}

post_drift() {
  local repo="${GITHUB_REPOSITORY:?}" body="$1" label="reconciler-drift" number
  local title="Drift between the manifests and PostHog${INPUT_ENVIRONMENT:+ ($INPUT_ENVIRONMENT)}"
  local run_url="${GITHUB_SERVER_URL:-https://github.com}/$repo/actions/runs/${GITHUB_RUN_ID:-}"
  number=$(gh issue list --repo "$repo" --label "$label" --state open --json number,body --limit 100 \
    | first_match number "$(marker)" "")
  case "${EXIT_CODE:-}" in
    2)
      if [ -z "$number" ]; then
        gh label create "$label" --repo "$repo" --color D93F0B --description "Found by reconciler drift" \
          > /dev/null 2>&1 || true
        gh issue create --repo "$repo" --title "$title" --label "$label" --body-file "$body"
      elif [ "${INPUT_COMMENT:-update}" = update ]; then
        gh issue edit "$number" --repo "$repo" --body-file "$body" > /dev/null
        gh issue comment "$number" --repo "$repo" --body "Still drifting as of run $run_url."
      else
        gh issue comment "$number" --repo "$repo" --body-file "$body"
      fi
      ;;
    0)
      if [ -n "$number" ]; then
        gh issue close "$number" --repo "$repo" --comment "No drift any more (run $run_url)."
      fi
      ;;
    *) echo "Drift check failed: no issue change." ;;
  esac
}

post() {
  local body="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/reconciler-action/post.md"
  { marker; cat "${REPORT:?}"; } > "$body"
  case "${INPUT_COMMAND:?}" in
    plan) post_plan "$body" ;;
    drift) post_drift "$body" ;;
    *) echo "Nothing to post for $INPUT_COMMAND." ;;
  esac
}

case "${1:-}" in
  install | run | post) "$1" ;;
  *)
    echo "usage: $0 install|run|post" >&2
    exit 2
    ;;
esac
