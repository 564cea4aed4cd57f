// Runs a command several times and reports median wall time and peak RSS (from GNU time's %M).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const GNU_TIME = '/usr/bin/time';

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function measure(label, command, args, { runs = 5, expectStatus = 0 } = {}) {
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} is missing (Debian package "time")`);
  const times = [];
  const rss = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(GNU_TIME, ['-f', '%M', command, ...args], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== expectStatus) {
      throw new Error(`${label}: exit ${r.status} (expected ${expectStatus}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    const lines = r.stderr.trim().split('\n');
    rss.push(Number(lines[lines.length - 1]) / 1024);
    times.push(ms);
  }
  return { label, runs, medianMs: median(times), minMs: Math.min(...times), medianRssMiB: median(rss), peakRssMiB: Math.max(...rss) };
}

export function printTable(title, rows) {
  console.log(`\n${title}`);
  console.log('  ' + ['what'.padEnd(44), 'median ms'.padStart(10), 'min ms'.padStart(8), 'peak RSS MiB'.padStart(13)].join(' '));
  for (const r of rows) {
    console.log(
      '  ' +
        [r.label.padEnd(44), r.medianMs.toFixed(1).padStart(10), r.minMs.toFixed(1).padStart(8), r.peakRssMiB.toFixed(1).padStart(13)].join(' '),
    );
  }
}

/** `pages` distinct 4 KiB pages (the page number and a per-page pattern, so that no two deduplicate). */
export function distinctPages(pages) {
  const data = new Uint8Array(pages * 4096);
  const dv = new DataView(data.buffer);
  for (let p = 0; p < pages; p++) {
    for (let w = 0; w < 1024; w += 64) dv.setUint32(p * 4096 + w * 4, (p * 2654435761 + w) >>> 0, true);
  }
  return data;
}
