// Benchmark: `igvm run` of the demo guest, process start to guest exit, median wall time and peak
// RSS over 10 runs, beside a bare `node -e 0` measured in the same run. Needs /dev/kvm.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoIgvm } from '../dist/build/demo-guest.js';
import { measure, printTable } from './measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function runDemoBenchmark() {
  if (!existsSync('/dev/kvm')) {
    console.log('\nigvm run (demo guest): skipped: /dev/kvm is missing on this machine');
    return [];
  }
  const file = path.join(root, 'build', 'bench', 'demo.igvm');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, await buildDemoIgvm());
  const cli = path.join(root, 'dist', 'cli', 'main.js');
  const serial = path.join(root, 'build', 'bench', 'demo-serial.txt');
  const rows = [
    // The demo leaves through isa-debug-exit with value 0: exit status 1.
    measure('igvm run demo.igvm (to guest exit)', process.execPath, [cli, 'run', file, '--serial', serial], { runs: 10, expectStatus: 1 }),
    measure('peer: node -e 0 (process start)', process.execPath, ['-e', '0'], { runs: 10 }),
  ];
  printTable('igvm run, demo guest, 10 runs', rows);
  console.log('  target: <= 80 ms and <= 80 MiB (QEMU 10.2 with IGVM, stated in the issue: ~62 ms, 32 MiB)');
  return rows;
}
