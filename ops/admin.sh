#!/usr/bin/env bash
# Admin-port shortcuts. AGENTCOM_ADMIN_URL (default http://127.0.0.1:4001) and
# AGENTCOM_ADMIN_TOKEN must be set. Usage: ops/admin.sh <command> [args]
set -euo pipefail
url=${AGENTCOM_ADMIN_URL:-http://127.0.0.1:4001}
: "${AGENTCOM_ADMIN_TOKEN:?set AGENTCOM_ADMIN_TOKEN}"
call() { curl -sS -X "$1" "$url$2" -H "Authorization: Bearer $AGENTCOM_ADMIN_TOKEN" -H 'content-type: application/json' ${3:+-d "$3"}; echo; }
case "${1:-help}" in
  health)        curl -sS "$url/health"; echo ;;
  metrics)       call GET /metrics ;;
  storage)       call GET /admin/storage-health ;;
  backup)        call POST /admin/backup ;;
  restore)       call POST /admin/restore "{\"backup\":\"${2:?backup name or path}\"}" ;;
  token)         call POST /admin/tokens "{\"agent_id\":\"${2:?agent_id}\"}" ;;
  tokens)        call GET /admin/tokens ;;
  revoke)        call DELETE "/admin/tokens/${2:?agent_id}" ;;
  reset-token)   call POST "/admin/agents/${2:?agent_id}/reset-token" ;;
  restart-agent) call POST "/admin/agents/${2:?agent_id}/restart" '{}' ;;
  whitelist)     call POST /admin/rate-limits/whitelist "{\"agent_id\":\"${2:?agent_id}\"}" ;;
  limits)        call GET /admin/rate-limits ;;
  log-level)     call PUT /admin/log-level "{\"level\":\"${2:?level}\"}" ;;
  dead-letter)   call GET /api/tasks/dead-letter ;;
  retry)         call POST "/api/tasks/${2:?task_id}/retry" ;;
  cancel)        call POST "/api/tasks/${2:?task_id}/cancel" ;;
  *) echo "usage: $0 health|metrics|storage|backup|restore BACKUP|token ID|tokens|revoke ID|reset-token ID|restart-agent ID|whitelist ID|limits|log-level L|dead-letter|retry TASK|cancel TASK" ;;
esac
