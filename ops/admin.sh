#!/usr/bin/env bash
# Admin-port shortcuts over curl. AGENTCOM_ADMIN_URL (default http://127.0.0.1:4001) and
# AGENTCOM_ADMIN_TOKEN (every command but help, health and ready). Prints the hub's JSON answer;
# exits non-zero when the hub refuses (the answer still printed). Usage: ops/admin.sh <command> [args]
set -euo pipefail
url=${AGENTCOM_ADMIN_URL:-http://127.0.0.1:4001}

usage() {
  cat <<'TEXT'
usage: ops/admin.sh <command> [args]    (AGENTCOM_ADMIN_URL, AGENTCOM_ADMIN_TOKEN)

  health | ready                  liveness with worker states | whether the hub takes writes
  metrics | storage               Prometheus text | storage health (counts, sizes, fragmentation)
  backup                          snapshot every domain now (data/backups/<timestamp>)
  restore BACKUP                  online restore of a backup (its folder name or a path);
                                  offline: npm run restore -- --from DIR --data DIR
  compact [DOMAIN]                compact one domain (registry, messaging, channels, tasks) or all
  alerts | ack RULE               firing alerts | acknowledge one (persisted)
  thresholds [JSON]               alert thresholds in effect | set them, e.g. '{"stuck_ms":300000}'
  token ID | tokens               issue a token for agent ID | list tokens (prefixes only)
  revoke ID | reset-token ID      revoke every token of ID | revoke all and issue one
  overrides                       rate-limit defaults, per-agent overrides and whitelist
  override ID JSON                set ID's overrides, e.g. '{"message":{"capacity":10,"per_min":10}}'
  override-remove ID              drop ID's overrides
  whitelist ID | unwhitelist ID   exempt ID from rate limits | stop exempting it
  log-level LEVEL                 debug, info, notice, warning, error
  restart-agent ID                send restart_sidecar to ID
  dead-letter | retry TASK | cancel TASK
TEXT
}

token() { : "${AGENTCOM_ADMIN_TOKEN:?set AGENTCOM_ADMIN_TOKEN}"; }
call() {
  token
  curl -sS --fail-with-body -X "$1" "$url$2" -H "Authorization: Bearer $AGENTCOM_ADMIN_TOKEN" \
    -H 'content-type: application/json' ${3:+-d "$3"}
  echo
}

case "${1:-help}" in
  health)          curl -sS "$url/health"; echo ;;
  ready)           curl -sS --fail-with-body "$url/ready"; echo ;;
  metrics)         call GET /metrics ;;
  storage)         call GET /admin/storage-health ;;
  backup)          call POST /admin/backup ;;
  restore)         call POST /admin/restore "{\"backup\":\"${2:?backup name or path}\"}" ;;
  compact)         call POST "/admin/compact${2:+/$2}" ;;
  alerts)          call GET /api/alerts ;;
  ack)             call POST "/api/alerts/${2:?rule_id}/acknowledge" ;;
  thresholds)      if [ -n "${2:-}" ]; then call PUT /api/config/alert-thresholds "$2"; else call GET /api/config/alert-thresholds; fi ;;
  token)           call POST /admin/tokens "{\"agent_id\":\"${2:?agent_id}\"}" ;;
  tokens)          call GET /admin/tokens ;;
  revoke)          call DELETE "/admin/tokens/${2:?agent_id}" ;;
  reset-token)     call POST "/admin/agents/${2:?agent_id}/reset-token" ;;
  overrides)       call GET /admin/rate-limits ;;
  override)        call PUT "/admin/rate-limits/${2:?agent_id}" "${3:?overrides JSON}" ;;
  override-remove) call DELETE "/admin/rate-limits/${2:?agent_id}" ;;
  whitelist)       call POST /admin/rate-limits/whitelist "{\"agent_id\":\"${2:?agent_id}\"}" ;;
  unwhitelist)     call DELETE "/admin/rate-limits/whitelist/${2:?agent_id}" ;;
  log-level)       call PUT /admin/log-level "{\"level\":\"${2:?level}\"}" ;;
  restart-agent)   call POST "/admin/agents/${2:?agent_id}/restart" '{}' ;;
  dead-letter)     call GET /api/tasks/dead-letter ;;
  retry)           call POST "/api/tasks/${2:?task_id}/retry" ;;
  cancel)          call POST "/api/tasks/${2:?task_id}/cancel" ;;
  help|-h|--help)  usage ;;
  *)               usage >&2; exit 2 ;;
esac
