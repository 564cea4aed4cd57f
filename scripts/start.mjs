// `npm start`: build the bundled example IGVM file and inspect it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExample } from '../examples/example-file.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build', 'example.igvm');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, buildExample());
console.log(`built ${path.relative(root, out)}; inspecting it:\n`);
const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'inspect', out], { stdio: 'inherit' });
process.exit(r.status ?? 1);
