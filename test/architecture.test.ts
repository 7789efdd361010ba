import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['main', 'workers', 'shared', 'storage', 'ops'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every relative import of a file (type-only ones too), as repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s+'(\.[^']+)'/gms)) {
    out.push(relative(ROOT, resolve(dirname(join(ROOT, file)), m[1])).replace(/\.js$/, '.ts'));
  }
  return out;
}

const files = FOLDERS.flatMap(sources);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const folderOf = (f: string) => f.split('/')[0];

/** ARCHITECTURE.md: who imports whom. */
const ALLOWED: Record<string, string[]> = {
  main: ['main', 'shared'],
  workers: ['workers', 'shared', 'storage'],
  storage: ['storage', 'shared'],
  shared: ['shared'],
  ops: ['ops', 'shared', 'storage'],
};

describe('the import graph (ARCHITECTURE.md)', () => {
  test('main imports neither storage/ nor workers/; storage imports only shared/; shared imports nothing of ours', () => {
    const bad: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) if (!ALLOWED[folderOf(f)].includes(folderOf(d))) bad.push(`${f} → ${d}`);
    }
    assert.deepEqual(bad, []);
  });

  test('has no circles', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, []);
  });
});
