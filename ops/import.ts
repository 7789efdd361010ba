import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as v from 'valibot';
import { parseConfig } from '../shared/config.js';
import { lockDataDir } from '../shared/data-lock.js';
import { OperatorError } from '../shared/errors.js';
import { readJsonObject } from '../shared/json-file.js';
import { agentId } from '../shared/schemas/common.js';
import { openDomainEnv } from '../storage/env.js';
import { REGISTRY_DBS, RegistryStore } from '../storage/registry.js';
import { fromAndData, isMainModule, runTool } from './cli-main.js';

export interface ImportReport {
  /** the file read */
  file: string;
  imported: Array<{ agent_id: string; token_prefix: string }>;
  skipped: Array<{ entry: string; reason: string }>;
}

/** Tokens as the original issued them are 64 hex characters; anything printable up to §5's 256 is taken. */
const TOKEN = /^[\x21-\x7e]{1,256}$/;

/** What a report may show of a token: its first 8 characters, as `GET /admin/tokens` does. */
const shown = (token: string) => `${token.slice(0, 8)}...`;

function readTokenStore(from: string): { file: string; entries: Array<[string, unknown]> } {
  const file = existsSync(from) && statSync(from).isDirectory() ? join(from, 'tokens.json') : from;
  const raw = readJsonObject(file, {
    label: file,
    error: OperatorError,
    notFound: 'not found (give the original hub’s priv/ folder)',
    notObject: "not the original's token store (a JSON object of token → agent_id)",
  });
  return { file, entries: Object.entries(raw) };
}

/**
 * Imports the original hub's `priv/tokens.json` (PROTOCOL.md §1: token →
 * agent_id) into the registry domain, hashed, so every existing agent keeps
 * its token. Entries that are malformed, whose agent id this hub refuses, or
 * whose token is already held are skipped and reported. Refused while a hub
 * (or a restore) holds the data directory.
 */
export async function importOriginal(from: string, dataDir: string): Promise<ImportReport> {
  const { file, entries } = readTokenStore(from);
  const validId = agentId(parseConfig({}));
  const lock = await lockDataDir(dataDir, 'import');
  try {
    const env = openDomainEnv(dataDir, 'registry', REGISTRY_DBS);
    const store = new RegistryStore(env);
    const report: ImportReport = { file, imported: [], skipped: [] };
    const now = Date.now();
    try {
      env.root.transactionSync(() => {
        for (const [token, agent] of entries) {
          const skip = (reason: string) =>
            report.skipped.push({ entry: TOKEN.test(token) ? shown(token) : '(malformed)', reason });
          if (!TOKEN.test(token)) skip('malformed token (not 1–256 printable characters without spaces)');
          else if (typeof agent !== 'string') skip('malformed entry: the agent id is not a string');
          else {
            const id = v.safeParse(validId, agent);
            if (!id.success) skip(`agent id "${agent.slice(0, 80)}" is refused here: ${id.issues[0].message}`);
            else {
              const held = store.importToken(token, agent, now);
              if (held === null) report.imported.push({ agent_id: agent, token_prefix: shown(token) });
              else skip(held === agent ? 'already present' : `already present, for agent "${held}"`);
            }
          }
        }
      });
      await env.root.flushed;
    } finally {
      await env.close();
    }
    return report;
  } finally {
    await lock.release();
  }
}

export function reportText(r: ImportReport): string {
  const agents = [...new Set(r.imported.map((i) => i.agent_id))];
  return [
    `read ${r.file}`,
    `imported ${r.imported.length} token(s)${agents.length ? ` for ${agents.length} agent(s): ${agents.join(', ')}` : ''}`,
    `skipped ${r.skipped.length}${r.skipped.length ? ':' : ''}`,
    ...r.skipped.map((s) => `  ${s.entry}: ${s.reason}`),
    '',
  ].join('\n');
}

export const IMPORT_OPTIONS = fromAndData({
  env: 'AGENTCOM_IMPORT_FROM',
  help: "the original hub's priv/ folder (or its tokens.json)",
});

if (isMainModule(import.meta.url)) {
  runTool(
    {
      usage: 'npm run import -- --from <original priv dir> [--data ./data]',
      about: `Imports the original (Elixir) hub's agent tokens (priv/tokens.json, token → agent_id)
into a stopped hub's data directory, stored hashed, so every agent keeps its token.
Reports what it imported and what it skipped (malformed entries, agent ids this hub
refuses, tokens already present). Exit 0 done, 1 refused (a running hub holds the
directory, no token store), 2 bad command line.`,
      options: IMPORT_OPTIONS,
      async run(o) {
        const r = await importOriginal(resolve(o.from as string), resolve((o.data as string | undefined) ?? './data'));
        process.stdout.write(reportText(r));
        return 0;
      },
    },
    'import',
  );
}
