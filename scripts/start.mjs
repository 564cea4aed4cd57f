// `npm start`: assemble the demo guest, build its IGVM file, and boot it with `igvm run`.
// Where KVM is not usable, say why and show what would be loaded (`igvm load --dry-run`) instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoIgvm } from '../dist/build/demo-guest.js';
import { writeFileAtomic } from '../dist/node/file-source.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const out = path.join(root, 'build', 'demo.igvm');
mkdirSync(path.dirname(out), { recursive: true });
await writeFileAtomic(out, await buildDemoIgvm());
console.log(`built ${path.relative(root, out)}`);

const igvm = (...args) => spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' }).status ?? 1;

if (existsSync('/dev/kvm')) {
  console.log(`$ igvm run ${path.relative(root, out)} --smp 2\n`);
  const status = igvm('run', out, '--smp', '2', '--timeout', '30');
  // The demo exits through isa-debug-exit with value 0: status (0 << 1) | 1 = 1 means success.
  if (status === 1) {
    console.log('\ndemo guest finished (isa-debug-exit value 0)');
    process.exit(0);
  }
  process.exit(status);
}
console.log('KVM is not available here (/dev/kvm is missing), so the demo cannot boot.');
console.log(`This is what igvm run would load:\n\n$ igvm load ${path.relative(root, out)} --dry-run --smp 2\n`);
process.exit(igvm('load', out, '--dry-run', '--smp', '2'));
