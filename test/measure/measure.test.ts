import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IgvmBuilder, parseIgvm } from '../../src/format/index.js';
import { fixChecksum, u64 } from '../helpers/mutate.js';
import { MeasureError, nobleHashProvider, toHex, PROFILE_NAMES, profileByName } from '../../src/measure/index.js';
import { nodeHashProvider } from '../../src/node/node-hash.js';
import { fixtures, measureBytes, pageOf, PAGE, parameterInsert, single, vmsa } from './fixtures.js';

const ZERO = new Uint8Array(PAGE);

describe('known answers (measurement.md §3)', () => {
  it('SHA-384 of a zero page, with both hash providers', () => {
    const expected = 'c0e59a3e3ffbd3b5c75428fb36432facabc745944296ff515f737c4fef4efc64586809f7a16f56354a1eaecf2aa8d774';
    expect(toHex(nodeHashProvider.hash('sha384', ZERO))).toBe(expected);
    expect(toHex(nobleHashProvider.hash('sha384', ZERO))).toBe(expected);
    const h = nobleHashProvider.create('sha384');
    h.update(ZERO.subarray(0, 100));
    const fork = h.copy();
    h.update(ZERO.subarray(100));
    expect(toHex(h.digest())).toBe(expected);
    fork.update(ZERO.subarray(100));
    expect(toHex(fork.digest())).toBe(expected);
  });

  const zeroAt0 = single('SEV_SNP', (b, m) => b.addZeroPages(0n, BigInt(PAGE), { mask: m }));
  it('SEV-SNP: one empty NORMAL page at GPA 0', async () => {
    expect((await measureBytes(zeroAt0, 'SEV_SNP')).hex).toBe(
      '9d13634b6014bb21cf059b2dc694e7bff01a8a7137041100cd2b695f3d10fb687267b97808b27f8f471d943bc6f53a20',
    );
  });
  it('SEV-SNP: then one UNMEASURED page at 0x1000', async () => {
    const bytes = single('SEV_SNP', (b, m) => {
      b.addZeroPages(0n, BigInt(PAGE), { mask: m });
      b.addZeroPages(0x1000n, BigInt(PAGE), { mask: m, unmeasured: true });
    });
    expect((await measureBytes(bytes, 'SEV_SNP')).hex).toBe(
      'd323436e8c2cffca5216a24291388fc83eff81663bea9d105d95447ccf17f9cd94a8cdd9905cc93f0ab2775dd89b599d',
    );
  });
  it('SEV-SNP: a ZERO page under svsm-igvmmeasure --native-zero', async () => {
    expect((await measureBytes(zeroAt0, 'SEV_SNP', { profileName: 'svsm-igvmmeasure-native-zero' })).hex).toBe(
      '70c0ecaab9608f14ebf8ac6f0f07bcd8728f4e2ab30382b539b4de4de904ca9f8ebdf4b2cd3cd84dd996bd55dd794676',
    );
  });
  const tdxZero = single('TDX', (b, m) => b.addZeroPages(0n, BigInt(PAGE), { mask: m }));
  it('TDX: one measured zero page at GPA 0', async () => {
    expect((await measureBytes(tdxZero, 'TDX')).hex).toBe(
      '236f0efa607ff8843f1855d7ef80dc3dda8fb455787a186b8787212951eab0096e3193bb26f817c2b63c21f5e10f9938',
    );
  });
  const pageAddOnly = '8f3e9a8aca6784eab874f7aa4dda5d49104a88047f1f86695ef2a88f5691a90e34aac48ce45ffa1f5a23c7d62980d570';
  it('TDX: MEM.PAGE.ADD only (an unmeasured page; td-shim for an empty page)', async () => {
    const unmeasured = single('TDX', (b, m) => b.addZeroPages(0n, BigInt(PAGE), { mask: m, unmeasured: true }));
    expect((await measureBytes(unmeasured, 'TDX')).hex).toBe(pageAddOnly);
    expect((await measureBytes(tdxZero, 'TDX', { profileName: 'td-shim' })).hex).toBe(pageAddOnly);
  });
  it('VBS: one measured zero NORMAL page at GPA 0', async () => {
    const bytes = single('VSM_ISOLATION', (b, m) => b.addZeroPages(0n, BigInt(PAGE), { mask: m }));
    expect((await measureBytes(bytes, 'VSM_ISOLATION')).hex).toBe('128a556eb9836b87199e8e55107483c8280763deb5ecc8bae69ec717287840d2');
  });
  it('SEV / SEV-ES: SHA-256 over the measured pages and (SEV-ES) the VMSA, in order', async () => {
    const data = pageOf(3);
    const state = vmsa(4);
    const b = new IgvmBuilder();
    const es = b.addPlatform('SEV_ES');
    b.addPageData(0x1000n, data, { mask: es });
    b.addZeroPages(0x2000n, BigInt(PAGE), { mask: es });
    b.addPageData(0x3000n, pageOf(5), { mask: es, unmeasured: true });
    b.addVpContext({ format: 'sev-vmsa', vmsa: state }, { mask: es, gpa: 0xffff_ffff_f000n });
    const bytes = b.serialize();
    const { SevVmsa } = await import('../../src/format/index.js');
    const expected = createHash('sha256').update(data).update(SevVmsa.encode(state)).digest('hex');
    expect((await measureBytes(bytes, 'SEV_ES')).hex).toBe(expected);
    // igvmmeasure hashes every page that carries data, unmeasured or not.
    const svsm = createHash('sha256').update(data).update(pageOf(5)).update(SevVmsa.encode(state)).digest('hex');
    expect((await measureBytes(bytes, 'SEV_ES', { profileName: 'svsm-igvmmeasure' })).hex).toBe(svsm);
    // QEMU hands empty pages to LAUNCH_UPDATE_DATA as zeros.
    const qemu = createHash('sha256').update(data).update(ZERO).update(SevVmsa.encode(state)).digest('hex');
    expect((await measureBytes(bytes, 'SEV_ES', { profileName: 'qemu-kvm' })).hex).toBe(qemu);
  });
});

describe('hash providers agree', () => {
  it('noble and node:crypto give the same digests and traces for every fixture', async () => {
    const { parseIgvmLazy } = await import('../../src/format/index.js');
    const { measureIgvm, memorySource } = await import('../../src/measure/index.js');
    for (const f of fixtures()) {
      for (const p of f.platforms) {
        const source = memorySource(f.bytes);
        const igvm = await parseIgvmLazy(source);
        const traces: string[][] = [[], []];
        const a = await measureIgvm(igvm, source, p, nodeHashProvider, { onRecord: (r) => traces[0]!.push(r.digest) });
        const b = await measureIgvm(igvm, source, p, nobleHashProvider, { onRecord: (r) => traces[1]!.push(r.digest) });
        expect(b.hex, `${f.name} ${p}`).toBe(a.hex);
        expect(traces[1]).toEqual(traces[0]);
        expect(traces[0]![traces[0]!.length - 1]).toBe(a.hex);
        expect(traces[0]!.length).toBe(a.records);
      }
    }
  });

  it('the worker-thread provider gives the reference digests (shared and copied inputs)', async () => {
    const { createParallelHashProvider } = await import('../../src/node/hash-pool.js');
    const pool = createParallelHashProvider(2);
    const { openFileSource } = await import('../../src/node/file-source.js');
    const dir = mkdtempSync(join(tmpdir(), 'igvm-pool-'));
    try {
      for (const f of fixtures()) {
        for (const p of f.platforms) {
          const a = await measureBytes(f.bytes, p);
          const { parseIgvmLazy } = await import('../../src/format/index.js');
          const { measureIgvm, memorySource } = await import('../../src/measure/index.js');
          const source = memorySource(f.bytes);
          const b = await measureIgvm(await parseIgvmLazy(source), source, p, pool);
          expect(b.hex, `${f.name} ${p}`).toBe(a.hex);
          // From a file: batches are read into shared buffers that the workers hash in place.
          const path = join(dir, `${f.name}.igvm`);
          writeFileSync(path, f.bytes);
          const file = await openFileSource(path);
          try {
            expect((await measureIgvm(await parseIgvmLazy(file), file, p, pool)).hex).toBe(a.hex);
          } finally {
            await file.close();
          }
        }
      }
      const shared = new Uint8Array(new SharedArrayBuffer(3 * PAGE));
      shared.set(pageOf(1), PAGE);
      const inputs = [shared.subarray(PAGE, 2 * PAGE), pageOf(2), shared.subarray(0, 10)];
      const all = await pool.hashMany('sha384', inputs);
      expect(toHex(all)).toBe(inputs.map((x) => createHash('sha384').update(x).digest('hex')).join(''));
    } finally {
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trace', () => {
  it('one record per measured page, with kind, GPA, page type, contents hash and running digest', async () => {
    const bytes = single('SEV_SNP', (b, m) => {
      b.addPageData(0x1000n, pageOf(1), { mask: m });
      b.addZeroPages(0x2000n, BigInt(PAGE), { mask: m, unmeasured: true });
      parameterInsert(b, 0x10000n, 2, m);
    });
    const records: unknown[] = [];
    const m = await measureBytes(bytes, 'SEV_SNP', { onRecord: (r) => records.push(r) });
    expect(records).toHaveLength(4);
    expect(records[0]).toMatchObject({ n: 0, kind: 'PAGE_INFO', gpa: 0x1000n, pageType: 'NORMAL', contentsSha256: createHash('sha256').update(pageOf(1)).digest('hex') });
    expect(records[1]).toMatchObject({ n: 1, gpa: 0x2000n, pageType: 'UNMEASURED' });
    expect(records[1]).not.toHaveProperty('contentsSha256');
    expect(records[3]).toMatchObject({ gpa: 0x11000n, pageType: 'UNMEASURED', digest: m.hex });
  });
});

describe('bad input', () => {
  it('a platform the file does not declare', async () => {
    const bytes = single('SEV_SNP', (b, m) => b.addPageData(0n, pageOf(1), { mask: m }));
    await expect(measureBytes(bytes, 'TDX')).rejects.toThrow(/^file declares SEV_SNP and NATIVE; no TDX platform$/);
  });
  it('a page type VBS cannot measure', async () => {
    const bytes = single('VSM_ISOLATION', (b, m) => b.addPageData(0n, pageOf(1), { mask: m, dataType: 'SECRETS' }));
    const e = await measureBytes(bytes, 'VSM_ISOLATION').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MeasureError);
    expect((e as MeasureError).message).toMatch(/header #\d+ \(PAGE_DATA\): page type SECRETS at 0x0 cannot be measured on VBS/);
  });
  it('a profile that does not measure the platform', async () => {
    const bytes = single('SEV_SNP', (b, m) => b.addPageData(0n, pageOf(1), { mask: m }));
    await expect(measureBytes(bytes, 'SEV_SNP', { profileName: 'td-shim' })).rejects.toThrow(/profile td-shim does not measure SEV_SNP/);
  });
  it('a parameter area too large to measure page by page', async () => {
    // The serializer writes areas below 4 GiB; the format's field is a u64, so patch one in.
    const bytes = single('SEV_SNP', (b, m) => parameterInsert(b, 0n, 1, m));
    const at = parseIgvm(bytes).locations.directives.find((l) => l.typeCode === 0x301)!.offset;
    u64(bytes, at + 8, 1n << 40n);
    fixChecksum(bytes);
    await expect(measureBytes(bytes, 'SEV_SNP')).rejects.toThrow(/parameter area 0 of 0x10000000000 bytes is more than \d+ pages/);
  });
  it('a file cut short inside page data fails with a clear error, not a wrong digest', async () => {
    const bytes = single('SEV_SNP', (b, m) => b.addPageData(0n, pageOf(1), { mask: m }));
    const { parseIgvmLazy } = await import('../../src/format/index.js');
    const { measureIgvm, memorySource } = await import('../../src/measure/index.js');
    const igvm = await parseIgvmLazy(memorySource(bytes));
    const page = igvm.directives.find((d) => d.type === 'PAGE_DATA' && d.gpa === 0n);
    const cut = (page as { data: { fileOffset: number } }).data.fileOffset + 10;
    const short = memorySource(bytes.subarray(0, cut));
    await expect(measureIgvm(igvm, short, 'SEV_SNP', nodeHashProvider)).rejects.toThrow(/the file ended at 0x[0-9a-f]+ while reading page data/);
  });
  it('the profile table names every profile', () => {
    expect(PROFILE_NAMES).toEqual(['igvm', 'svsm-igvmmeasure', 'svsm-igvmmeasure-native-zero', 'qemu-kvm', 'td-shim']);
    for (const n of PROFILE_NAMES) expect(profileByName(n)?.name).toBe(n);
    expect(profileByName('toString')).toBeUndefined();
  });
});
