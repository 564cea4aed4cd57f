// Benchmark: exit throughput. A guest executing N `out` instructions to an unclaimed port under
// `igvm run` (each is a KVM_EXIT_IO handled on the vCPU thread), exits per second, beside the same
// loop in a minimal C program (bench/kvm-out-loop.c, compiled with gcc now) on the same /dev/kvm.
// Ours: (time of the N-exit run - time of the 0-exit run) / N, so that start-up is not counted;
// the C program times its KVM_RUN loop alone. N: BENCH_EXITS (default 1,000,000).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { probeKvmHost } from '../dist/vmm/host-probe.js';
import { benchDir, cli, outLoopGuest, root } from './guests.mjs';

function wallMs(command, args, expectStatus) {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== expectStatus) throw new Error(`${command} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  return { ms, stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function runExitsBenchmark() {
  const host = probeKvmHost();
  if (host.kind === 'none') return console.log(`\nexit throughput: skipped: ${host.reason}`);
  const n = Number(process.env.BENCH_EXITS ?? 1_000_000);
  const run = (file) => wallMs(process.execPath, [cli, 'run', file, '--serial', '/dev/null'], 1).ms;
  const empty = outLoopGuest(0);
  const loop = outLoopGuest(n);
  const base = median([run(empty), run(empty), run(empty)]);
  const ours = n / ((run(loop) - base) / 1000);

  console.log(`\nexit throughput: ${n} x out to an unclaimed port (KVM: ${host.kind})`);
  console.log(`  igvm run (vCPU-thread device bus)        ${ours.toFixed(0).padStart(10)} exits/s`);
  const binary = path.join(benchDir, 'kvm-out-loop');
  const cc = spawnSync('gcc', ['-O2', '-o', binary, path.join(root, 'bench', 'kvm-out-loop.c')], { encoding: 'utf8' });
  if (cc.status !== 0) return console.log(`  (C peer skipped: gcc failed: ${(cc.stderr || cc.error?.message || '').trim().split('\n')[0]})`);
  const c = wallMs(binary, [String(n)], 0).stdout;
  const peer = Number(/([\d.]+) exits\/s/.exec(c)?.[1]);
  console.log(`  peer: minimal C program, same /dev/kvm   ${peer.toFixed(0).padStart(10)} exits/s`);
  console.log(`  ratio ${(ours / peer).toFixed(2)}x (target: at least 0.7x)`);
}
