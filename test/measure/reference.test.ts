// Differential test: our default profile against the reference implementation (igvm-ref-dump, the
// microsoft/igvm crate at e6c3ff1 with its measurement module) over builder-made files.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MeasurablePlatform } from '../../src/measure/index.js';
import { fixtures, measureBytes } from './fixtures.js';

const TOOL = path.resolve(import.meta.dirname, '../../../shared/tools/igvm-ref-dump');
const available = existsSync(TOOL);
if (!available) console.log(`skipping the reference comparison: ${TOOL} is absent (it lives in ../shared/tools beside the repository)`);

const FLAG: Partial<Record<MeasurablePlatform, string>> = { SEV_SNP: 'snp', TDX: 'tdx', VSM_ISOLATION: 'vbs' };
const dir = mkdtempSync(path.join(tmpdir(), 'igvm-measure-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function reference(file: string, platform: MeasurablePlatform, mask?: number): { ok: true; hex: string } | { ok: false; error: string } {
  const args = ['measure', file, '--platform', FLAG[platform]!, ...(mask !== undefined ? ['--mask', `0x${mask.toString(16)}`] : [])];
  const r = spawnSync(TOOL, args, { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, hex: r.stdout.trim() };
  return { ok: false, error: `${r.stdout}${r.stderr}`.trim() };
}

describe.skipIf(!available)('measurement equals igvm-ref-dump measure', () => {
  it('the tool runs', () => {
    expect(execFileSync(TOOL, ['check', path.resolve(import.meta.dirname, '../../../shared/vectors/v1_snp_basic.igvm')], { encoding: 'utf8' })).toMatch(/OK/);
  });

  for (const f of fixtures()) {
    for (const platform of f.platforms.filter((p) => FLAG[p])) {
      for (const mask of [undefined, ...(f.masks?.[platform] ?? [])]) {
        it(`${f.name} ${platform}${mask !== undefined ? ` mask 0x${mask.toString(16)}` : ''}`, async () => {
          const file = path.join(dir, `${f.name}.igvm`);
          writeFileSync(file, f.bytes);
          const ref = reference(file, platform, mask);
          const ours = await measureBytes(f.bytes, platform, mask !== undefined ? { mask } : {});
          if (ref.ok) {
            expect(ours.hex).toBe(ref.hex);
          } else {
            // The reference refuses only SNP files without an applicable guest policy; we warn instead.
            expect(ref.error).toMatch(/guest policy/);
            expect(ours.warnings.map((w) => w.message).join('\n')).toMatch(/no GUEST_POLICY applies/);
          }
        });
      }
    }
  }

  it('the shared vectors', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const vectors = path.resolve(import.meta.dirname, '../../../shared/vectors');
    const { parseIgvm } = await import('../../src/format/index.js');
    let compared = 0;
    for (const name of readdirSync(vectors).filter((n) => n.endsWith('.igvm'))) {
      const bytes = new Uint8Array(readFileSync(path.join(vectors, name)));
      let platforms: string[];
      try {
        platforms = parseIgvm(bytes).platforms.map((p) => p.platformType);
      } catch {
        continue;
      }
      for (const platform of ['SEV_SNP', 'TDX', 'VSM_ISOLATION'] as const) {
        if (!platforms.includes(platform)) continue;
        const ref = reference(path.join(vectors, name), platform);
        if (!ref.ok) continue;
        expect((await measureBytes(bytes, platform)).hex, `${name} ${platform}`).toBe(ref.hex);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(4);
  });
});
