// Benchmark: `igvm run` of the demo guest, process start to guest exit, median wall time and peak
// RSS over 10 runs, beside a bare `node -e 0` and QEMU 10.2.2 booting the same file on the same
// KVM (where ../shared/tools/qemu is present), measured in the same run. Needs /dev/kvm.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildDemoIgvm } from '../dist/build/demo-guest.js';
import { probeKvmHost } from '../dist/vmm/host-probe.js';
import { benchDir, cli, qemuCommand, qemuSkipReason } from './guests.mjs';
import { measure, printTable } from './measure.mjs';

export async function runDemoBenchmark() {
  const host = probeKvmHost();
  if (host.kind === 'none') {
    console.log(`\nigvm run (demo guest): skipped: ${host.reason}`);
    return [];
  }
  const file = path.join(benchDir, 'demo.igvm');
  writeFileSync(file, await buildDemoIgvm());
  const serial = path.join(benchDir, 'demo-serial.txt');
  const rows = [
    // The demo leaves through isa-debug-exit with value 0: exit status 1.
    measure('igvm run demo.igvm (to guest exit)', process.execPath, [cli, 'run', file, '--serial', serial], { runs: 10, expectStatus: 1 }),
    measure('peer: node -e 0 (process start)', process.execPath, ['-e', '0'], { runs: 10 }),
  ];
  const skip = qemuSkipReason();
  if (skip) console.log(`  (QEMU peer skipped: ${skip})`);
  else rows.push(measure('peer: QEMU 10.2.2 -machine q35,igvm-cfg', ...qemuCommand(file, `${serial}.qemu`), { runs: 10, expectStatus: 1 }));
  printTable(`igvm run, demo guest, 10 runs (KVM: ${host.kind})`, rows);
  console.log('  target: at most 1.0x QEMU\'s time and at most 80 MiB');
  return rows;
}
