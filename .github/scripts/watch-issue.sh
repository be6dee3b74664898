#!/usr/bin/env bash
# The watch workflow's issue (.github/workflows/watch-repo.yml): one open GitHub issue
# while the public chart repository fails `verify-repo`, a comment on it for every
# failing run, closed by the first run that passes again.
#
# Usage: watch-issue.sh OUTCOME REPORT
#   OUTCOME  the verify step's outcome: `success` or `failure`
#   REPORT   the file holding verify-repo's report
# Environment: GH_TOKEN and GH_REPO for gh; GITHUB_SERVER_URL, GITHUB_REPOSITORY and
# GITHUB_RUN_ID (set by GitHub Actions) for the link to the run.
#
# The issue is the open one with exactly this title, found by listing the open issues
# (not GitHub's search index, which lags: an issue opened a moment ago is found). When
# several match, the oldest gets the comments and no other is opened; a pass closes them all.
set -euo pipefail

readonly TITLE="verify-repo fails on the public chart repository"
# An issue body or comment holds at most 65,536 characters; the report's head says the most.
readonly MAX_REPORT=60000

usage="usage: watch-issue.sh success|failure REPORT"
outcome="${1:?$usage}"
report="${2:?$usage}"
[[ -r "$report" ]] || { echo "watch-issue.sh: cannot read the report $report" >&2; exit 2; }
run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-${GH_REPO:-}}/actions/runs/${GITHUB_RUN_ID:-0}"

# The numbers of the open watch issues, oldest first.
open_issues() {
  gh issue list --state open --limit 1000 --json number,title \
    --jq "map(select(.title == \"$TITLE\")) | sort_by(.number) | .[].number"
}

# A body: HEADING, the run, and the report as a code block (cut to MAX_REPORT bytes).
write_body() {
  local heading=$1 file=$2 size
  size=$(wc -c < "$report")
  {
    printf '%s\n\nRun: %s\n\n```text\n' "$heading" "$run_url"
    head -c "$MAX_REPORT" "$report"
    printf '\n```\n'
    if (( size > MAX_REPORT )); then
      printf '\nThe report is cut after %d of its %d bytes; the whole report is in the run log.\n' "$MAX_REPORT" "$size"
    fi
  } > "$file"
}

# Listed first, on its own: a failed listing stops here (set -e), never opens a second issue.
listed=$(open_issues)
issues=()
if [[ -n "$listed" ]]; then
  mapfile -t issues <<< "$listed"
fi
case "$outcome" in
  failure)
    body=$(mktemp)
    trap 'rm -f "$body"' EXIT
    if (( ${#issues[@]} > 0 )); then
      write_body "verify-repo still fails." "$body"
      gh issue comment "${issues[0]}" --body-file "$body"
      echo "watch-issue.sh: commented on issue #${issues[0]}"
    else
      write_body "verify-repo, run as an anonymous user against the public chart repository, fails. \
This issue stays open, with a comment for each failing run, until a run passes again; then it is closed." "$body"
      gh issue create --title "$TITLE" --body-file "$body"
      echo "watch-issue.sh: opened an issue"
    fi
    ;;
  success)
    for number in "${issues[@]}"; do
      gh issue close "$number" --comment "verify-repo passes again: $run_url"
      echo "watch-issue.sh: closed issue #$number"
    done
    (( ${#issues[@]} > 0 )) || echo "watch-issue.sh: the repository passes, and no watch issue is open"
    ;;
  *)
    echo "watch-issue.sh: the outcome must be success or failure, not $outcome" >&2
    exit 2
    ;;
esac
