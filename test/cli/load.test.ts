/** `igvm load --dry-run`: the LoadReport printed without KVM, as text and JSON. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(repoRoot, 'dist/cli/main.js');
const vectors = resolve(repoRoot, '../shared/vectors');
const vector = join(vectors, 'v2_x64_native_vpctx.igvm');
const hasVectors = existsSync(vector);
if (!hasVectors) console.log(`skipping igvm load tests on reference vectors: ${vectors} not found`);

function igvm(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!hasVectors)('igvm load --dry-run', () => {
  it('prints the memory writes, created RAM and boot CPU, the same every time', () => {
    const a = igvm('load', vector, '--dry-run', '-m', '128M');
    const b = igvm('load', vector, '--dry-run', '-m', '128M');
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain('native platform (mask 0x1) on 128 MiB, 1 vCPU');
    expect(a.stdout).toContain('0x0fffff000-0x0ffffffff  page data, 1 page (header #1)');
    expect(a.stdout).toContain('igvm.1 0x0fffff000-0x0ffffffff for page data of headers #1..#1');
    expect(a.stdout).toContain('rip 0xfff0');
    expect(a.stdout).toContain('cs selector 0xf000 base 0xffff0000 limit 0xffff type 11 P');
  });

  it('--json prints the report with 64-bit values as hex strings', () => {
    const r = igvm('load', vector, '--dry-run', '-m', '5G', '--smp', '4', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema).toBe('igvm-ts/load-report/v1');
    expect(doc.memory).toBe('0x140000000');
    expect(doc.machine.vcpus).toBe(4);
    expect(doc.machine.e820).toEqual([
      { gpa: '0x0', size: '0x80000000', type: 'ram' },
      { gpa: '0xfeffc000', size: '0x4000', type: 'reserved' },
      { gpa: '0x100000000', size: '0xc0000000', type: 'ram' },
    ]);
    expect(doc.bootCpu.registers.rip).toBe('0xfff0');
  });

  it('rejects bad options and files that cannot load natively with one line', () => {
    const cases: [string[], number, RegExp][] = [
      [['load', vector], 2, /only supports --dry-run/],
      [['load', vector, '--dry-run', '-m', 'lots'], 2, /-m: "lots" is not a memory size/],
      [['load', vector, '--dry-run', '--smp', '0'], 2, /--smp 0: the vCPU count must be/],
      [['load', join(vectors, 'v1_snp_basic.igvm'), '--dry-run'], 1, /has no NATIVE platform \(it has: SEV_SNP\)/],
      [['load', join(vectors, 'missing.igvm'), '--dry-run'], 2, /cannot read .*missing\.igvm: no such file/],
      [['load', join(vectors, 'v1_zero_page_only.igvm'), '--dry-run'], 1, /file data section is empty/],
    ];
    for (const [args, code, message] of cases) {
      const r = igvm(...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe.skipIf(!hasVectors)('igvm merge', () => {
  it('merges per-platform files; errors are one line', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'igvm-merge-'));
    const out = join(dir, 'merged.igvm');
    const r = igvm('merge', join(vectors, 'v1_minimal_native_page.igvm'), join(vectors, 'v1_snp_basic.igvm'), '-o', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/NATIVE \(mask 0x1\), SEV_SNP \(mask 0x2\)/);
    const v = igvm('validate', out);
    expect(v.code).toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(0);
    const clash = igvm('merge', join(vectors, 'v1_minimal_native_page.igvm'), join(vectors, 'v1_x64_native_vpctx.igvm'), '-o', join(dir, 'x.igvm'));
    expect(clash.code).toBe(1);
    expect(clash.stderr.trim().split('\n')).toHaveLength(1);
    expect(clash.stderr).toMatch(/platform NATIVE is declared twice/);
    expect(igvm('merge', join(vectors, 'v1_minimal_native_page.igvm'), '-o', out).code).toBe(2);
    expect(igvm('merge', join(vectors, 'v2_x64_native_vpctx.igvm'), join(vectors, 'v1_snp_basic.igvm'), '-o', join(dir, 'y.igvm')).stderr).toMatch(/cannot merge a V1 file into a V2/);
  });
});
