// `npm start`: assemble the demo guest, build its IGVM file, and boot it with `igvm run`.
// Where /dev/kvm is not usable, boot it on the kvm_amd of a nested VM (scripts/kvm-nested.mjs) when
// QEMU and the cached Debian kernel are there; otherwise say why and show what would be loaded.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoIgvm } from '../dist/build/demo-guest.js';
import { writeFileAtomic } from '../dist/node/file-source.js';
import { nestedSkipReason, runNested } from './kvm-nested.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const out = path.join(root, 'build', 'demo.igvm');
mkdirSync(path.dirname(out), { recursive: true });
await writeFileAtomic(out, await buildDemoIgvm());
console.log(`built ${path.relative(root, out)}`);

const igvm = (...args) => spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' }).status ?? 1;

const runArgs = ['run', out, '--smp', '2', '--timeout', '30'];
/** The demo exits through isa-debug-exit with value 0: status (0 << 1) | 1 = 1 means success. */
function finish(status) {
  if (status === 1) {
    console.log('\ndemo guest finished (isa-debug-exit value 0)');
    process.exit(0);
  }
  process.exit(status);
}

if (existsSync('/dev/kvm')) {
  console.log(`$ igvm run ${path.relative(root, out)} --smp 2\n`);
  finish(igvm(...runArgs));
}
const nested = nestedSkipReason();
if (nested === undefined) {
  console.log('/dev/kvm is missing here: booting the demo on the KVM of a nested VM (QEMU with an emulated AMD CPU, about 20 s)');
  console.log(`$ igvm run ${path.relative(root, out)} --smp 2\n`);
  // Each VM exit costs milliseconds there: a longer timeout.
  finish(await runNested([process.execPath, cli, 'run', out, '--smp', '2', '--timeout', '120'], { timeoutSec: 300 }));
}
console.log(`KVM is not available here (/dev/kvm is missing), and the demo cannot boot in a nested VM either: ${nested}.`);
console.log(`This is what igvm run would load:\n\n$ igvm load ${path.relative(root, out)} --dry-run --smp 2\n`);
process.exit(igvm('load', out, '--dry-run', '--smp', '2'));
