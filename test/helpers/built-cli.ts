/** The built `igvm` CLI for child-process tests: its path, rebuilt first when older than src/. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = join(repoRoot, 'dist/cli/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; run directly, a test builds when dist is missing or stale. */
export function ensureBuiltCli(): void {
  if (existsSync(cliPath) && statSync(cliPath).mtimeMs >= newestMtime(join(repoRoot, 'src'))) return;
  const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: repoRoot, encoding: 'utf8' });
  if (!existsSync(cliPath)) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}
