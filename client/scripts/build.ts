/**
 * Builds the client package into client/dist, self-contained: one ESM file
 * (runtime dependency: `ws` only), one .d.ts with the frame types inlined
 * (valibot's type declarations included, so neither valibot nor ../shared is
 * needed), and the JSON Schema of every frame. Run by the root `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const client = `${root}client/`;
// `--out <dir>` builds elsewhere (the package test packs a copy), always from scratch
const outArg = process.argv.indexOf('--out');
const dist = outArg > 0 ? `${process.argv[outArg + 1]}/` : `${client}dist/`;

/** Newest modification time under the given files and folders. */
function newest(paths: string[]): number {
  let t = 0;
  for (const p of paths) {
    const st = statSync(p);
    if (!st.isDirectory()) t = Math.max(t, st.mtimeMs);
    else for (const e of readdirSync(p)) t = Math.max(t, newest([`${p}/${e}`]));
  }
  return t;
}

// `npm start` builds first: skip the package when nothing it is made from changed
const inputs = [
  `${client}src`,
  `${root}shared`,
  `${client}scripts`,
  `${client}package.json`,
  `${root}package-lock.json`,
];
const output = `${dist}agentcom.schema.json`;
if (outArg < 0 && existsSync(output) && statSync(output).mtimeMs >= newest(inputs)) {
  process.exit(0);
}

// loaded only when building: the freshness check above stays quick
const { rollup } = await import('rollup');
const { dts } = await import('rollup-plugin-dts');
const { parseConfig } = await import('../../shared/config.js');
const { frameSchemaDocument } = await import('../../shared/schemas/json-schema.js');

// tsc's output goes to a fresh dir, so two builds at once never share one; inside the repo, so the
// declarations still resolve valibot from node_modules
const build = `${mkdtempSync(`${client}.build-`)}/`;
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// the repo's own compiler (TypeScript 7) emits JS and declarations; rollup only joins them
const tsc = `${root}node_modules/typescript/bin/tsc`;
execFileSync(process.execPath, [tsc, '-p', `${client}tsconfig.build.json`, '--outDir', build], { stdio: 'inherit' });

const js = await rollup({ input: `${build}client/src/index.js`, external: ['ws'] });
await js.write({ file: `${dist}index.js`, format: 'es' });
await js.close();

const types = await rollup({
  input: `${build}client/src/index.d.ts`,
  external: ['ws'],
  // inline the declarations the frame types are inferred from, valibot's included
  plugins: [dts({ respectExternal: true })],
});
await types.write({
  file: `${dist}index.d.ts`,
  format: 'es',
  banner: '// Includes type declarations from valibot (MIT License, see valibot-LICENSE.md).',
});
await types.close();
copyFileSync(`${root}node_modules/valibot/LICENSE.md`, `${dist}valibot-LICENSE.md`);

const defaults = parseConfig({});
writeFileSync(`${dist}agentcom.schema.json`, `${JSON.stringify(frameSchemaDocument(defaults), null, 2)}\n`);

rmSync(build, { recursive: true, force: true });
