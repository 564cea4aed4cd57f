// Benchmark: SEV-SNP and TDX digests (`igvm measure --bare`) of a file of 65,536 distinct 4 KiB pages
// (~256 MiB), beside the reference tool (igvm-ref-dump measure, the microsoft/igvm crate) on the same
// file and `openssl dgst -sha384` over the same bytes, all measured in this run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IgvmBuilder } from '../dist/format/index.js';
import { distinctPages } from './measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PAGES = 65_536;
const RUNS = 5;
const file = path.join(root, 'build', 'bench', `snp-tdx-${PAGES}-pages.igvm`);
const refTool = path.resolve(root, '../shared/tools/igvm-ref-dump');

function generate() {
  const data = distinctPages(PAGES);
  const b = new IgvmBuilder({ formatVersion: 1 });
  const snp = b.addPlatform('SEV_SNP');
  const tdx = b.addPlatform('TDX');
  b.addGuestPolicy(0x30000n, snp);
  b.addPageData(0x10_0000n, data, { mask: snp | tdx });
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, b.serialize());
}

function digestOf(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(/\s+/).find((w) => /^[0-9a-f]{64,}$/.test(w)) : undefined;
}

const GNU_TIME = '/usr/bin/time';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One run under GNU time: wall and CPU (user + sys) seconds, peak RSS in MiB. */
function timed(command, args) {
  const r = spawnSync(GNU_TIME, ['-f', '%e %U %S %M', command, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  const [wall, user, sys, kib] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: user + sys, rss: kib / 1024 };
}

export function runMeasureBenchmark() {
  if (!existsSync(GNU_TIME)) {
    console.log(`\nigvm measure benchmark skipped: ${GNU_TIME} is missing (Debian package "time")`);
    return [];
  }
  if (!existsSync(file)) {
    const t = performance.now();
    generate();
    console.log(`generated ${path.relative(root, file)} (${(statSync(file).size / 2 ** 20).toFixed(1)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const size = statSync(file).size;
  const cli = path.join(root, 'dist', 'cli', 'main.js');
  const haveRef = existsSync(refTool);
  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
  const subjects = [];
  for (const platform of ['snp', 'tdx']) {
    const ours = digestOf(process.execPath, [cli, 'measure', file, '--platform', platform, '--bare']);
    subjects.push({ label: `igvm measure --platform ${platform}`, command: process.execPath, args: [cli, 'measure', file, '--platform', platform, '--bare'] });
    if (platform === 'snp') {
      // SEV-SNP page hashes on worker threads (the default only where there are 3 or more CPUs).
      const threads = Math.max(1, availableParallelism() - 1);
      subjects.push({ label: `igvm measure --platform snp --threads ${threads}`, command: process.execPath, args: [cli, 'measure', file, '--platform', 'snp', '--bare', '--threads', String(threads)] });
    }
    if (haveRef) {
      const theirs = digestOf(refTool, ['measure', file, '--platform', platform]);
      if (ours !== theirs) throw new Error(`${platform}: our digest ${ours} differs from the reference's ${theirs}`);
      subjects.push({ label: `peer: igvm-ref-dump measure --platform ${platform}`, command: refTool, args: ['measure', file, '--platform', platform] });
    }
  }
  if (haveOpenssl) subjects.push({ label: 'peer: openssl dgst -sha384 (same bytes)', command: 'openssl', args: ['dgst', '-sha384', file] });
  // Interleaved runs, so that a busy machine slows every subject alike.
  const samples = subjects.map(() => []);
  for (let run = 0; run < RUNS; run++) subjects.forEach((s, i) => samples[i].push(timed(s.command, s.args)));
  const rows = subjects.map((s, i) => ({
    label: s.label,
    wall: median(samples[i].map((x) => x.wall)),
    cpu: median(samples[i].map((x) => x.cpu)),
    rss: Math.max(...samples[i].map((x) => x.rss)),
  }));
  const ssl = rows.find((r) => r.label.startsWith('peer: openssl'));
  console.log(`\nigvm measure, ${PAGES} distinct 4 KiB pages (${(size / 2 ** 20).toFixed(0)} MiB), median of ${RUNS} interleaved runs`);
  console.log('  ' + ['what'.padEnd(44), 'wall s'.padStart(7), 'cpu s'.padStart(7), 'MiB/s'.padStart(6), 'vs openssl'.padStart(11), 'peak RSS MiB'.padStart(13)].join(' '));
  for (const r of rows) {
    const rate = size / 2 ** 20 / r.wall;
    const vs = ssl ? `${(ssl.wall / r.wall).toFixed(2)}x` : '-';
    console.log('  ' + [r.label.padEnd(44), r.wall.toFixed(2).padStart(7), r.cpu.toFixed(2).padStart(7), rate.toFixed(0).padStart(6), vs.padStart(11), r.rss.toFixed(1).padStart(13)].join(' '));
  }
  if (!haveRef) console.log(`  (reference tool absent: ${refTool})`);
  if (!haveOpenssl) console.log('  (openssl absent)');
  console.log('  targets: faster than the reference tool, >= 0.9x OpenSSL throughput (file bytes per second), peak RSS < 128 MiB');
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) runMeasureBenchmark();
