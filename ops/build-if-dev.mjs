// `npm start`, `npm run restore` and `npm run import` run the compiled dist/. In a checkout with the dev
// dependencies, this builds it first (`npm run build`, which skips what is up to date). A production
// install (`npm ci --omit=dev` plus a built dist/) has no compiler: it runs dist/ as shipped.
// Plain JavaScript on purpose: it must run where neither tsc nor tsx is installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (existsSync(`${root}node_modules/typescript`)) {
  const npm = process.env.npm_execpath;
  const r = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
if (!existsSync(`${root}dist/main/index.js`)) {
  process.stderr.write('dist/ is missing: build it with `npm run build` where the dev dependencies are installed\n');
  process.exit(1);
}
