// Benchmark: console throughput. A guest writing 10 MiB to COM1 (rep outsb, 4 KiB per exit) under
// `igvm run` and under QEMU 10.2.2 (where ../shared/tools/qemu is present), both into a file, MB/s
// of the write alone: (time with the output - time of the same guest writing nothing).
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { probeKvmHost } from '../dist/vmm/host-probe.js';
import { benchDir, cli, consoleGuest, qemuCommand, qemuSkipReason } from './guests.mjs';

/** 2560 pages: 10 MiB (BENCH_CONSOLE_PAGES to change it; kvm_pvm emulates rep outsb slowly). */
const PAGES = Number(process.env.BENCH_CONSOLE_PAGES ?? 2560);

function wallMs(command, args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 1) throw new Error(`${command}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  return ms;
}

function throughput(label, command) {
  const serial = path.join(benchDir, 'console-serial.txt');
  const base = Math.min(...[0, 1, 2].map(() => wallMs(...command(consoleGuest(0), serial))));
  const ms = Math.min(...[0, 1, 2].map(() => wallMs(...command(consoleGuest(PAGES), serial))));
  const bytes = statSync(serial).size;
  if (bytes !== PAGES * 4096) throw new Error(`${label}: wrote ${bytes} bytes, expected ${PAGES * 4096}`);
  const mbs = bytes / 1e6 / ((ms - base) / 1000);
  console.log(`  ${label.padEnd(40)} ${mbs.toFixed(1).padStart(8)} MB/s  (${ms.toFixed(0)} ms, ${base.toFixed(0)} ms without the output)`);
}

export function runConsoleBenchmark() {
  const host = probeKvmHost();
  if (host.kind === 'none') return console.log(`\nconsole throughput: skipped: ${host.reason}`);
  console.log(`\nconsole throughput: ${(PAGES * 4096) / 2 ** 20} MiB to COM1, best of 3 (KVM: ${host.kind})`);
  throughput('igvm run --serial FILE', (file, serial) => [process.execPath, [cli, 'run', file, '--serial', serial]]);
  const skip = qemuSkipReason();
  if (skip) console.log(`  (QEMU peer skipped: ${skip})`);
  else throughput('peer: QEMU 10.2.2 -serial file:', qemuCommand);
}
