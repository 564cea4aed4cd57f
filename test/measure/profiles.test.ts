// Each profile differs from the default (igvm) exactly where its rule table says: a file that touches
// none of its switches measures the same; a file that touches one switch measures differently.
import { describe, expect, it } from 'vitest';
import { IgvmBuilder } from '../../src/format/index.js';
import type { MeasurablePlatform } from '../../src/measure/index.js';
import { measureBytes, pageOf, PAGE, parameterInsert, single, vmsa } from './fixtures.js';

async function same(bytes: Uint8Array, platform: MeasurablePlatform, profileName: string, base = 'igvm'): Promise<boolean> {
  const a = await measureBytes(bytes, platform, { profileName: base });
  const b = await measureBytes(bytes, platform, { profileName });
  expect(b.profile).toBe(profileName);
  return a.hex === b.hex;
}

const KVM_GPA = 0xffff_ffff_f000n;

/** SNP content none of the SNP profiles disagree on: data, empty, unmeasured, SECRETS, CPUID pages; a one-page insert before the pages; the VMSA last. */
function plainSnp(b: IgvmBuilder, m: number): void {
  parameterInsert(b, 0x40000n, 1, m);
  b.addPageData(0x1000n, pageOf(1, 2 * PAGE), { mask: m });
  b.addZeroPages(0x3000n, BigInt(PAGE), { mask: m });
  b.addZeroPages(0x4000n, BigInt(PAGE), { mask: m, unmeasured: true });
  b.addZeroPages(0x5000n, BigInt(PAGE), { mask: m, dataType: 'SECRETS' });
  b.addZeroPages(0x6000n, BigInt(PAGE), { mask: m, dataType: 'CPUID_DATA' });
  b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(1, { cr0: 0x31n }) }, { mask: m, gpa: KVM_GPA });
}

describe('svsm-igvmmeasure', () => {
  it('agrees with the default where no switch applies', async () => {
    expect(await same(single('SEV_SNP', plainSnp), 'SEV_SNP', 'svsm-igvmmeasure')).toBe(true);
  });
  it('measures shared pages', async () => {
    const f = single('SEV_SNP', (b, m) => { plainSnp(b, m); b.addPageData(0x9000n, pageOf(2), { mask: m, shared: true }); });
    expect(await same(f, 'SEV_SNP', 'svsm-igvmmeasure')).toBe(false);
  });
  it('measures one page per parameter insert', async () => {
    const f = single('SEV_SNP', (b, m) => { plainSnp(b, m); parameterInsert(b, 0x80000n, 2, m); });
    expect(await same(f, 'SEV_SNP', 'svsm-igvmmeasure')).toBe(false);
  });
  it('measures VMSAs whatever their mask', async () => {
    const b = new IgvmBuilder();
    const snp = b.addPlatform('SEV_SNP');
    const es = b.addPlatform('SEV_ES');
    b.addGuestPolicy(0x30000n, snp);
    b.addPageData(0x1000n, pageOf(1), { mask: snp | es });
    b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(2) }, { mask: es, gpa: KVM_GPA });
    expect(await same(b.serialize(), 'SEV_SNP', 'svsm-igvmmeasure')).toBe(false);
  });
  it('splits a 2 MiB page into 512 pages', async () => {
    const f = single('SEV_SNP', (b, m) => {
      plainSnp(b, m);
      b.addDirective({ type: 'PAGE_DATA', gpa: 0x200000n, compatibilityMask: m, flags: { is2mbPage: true, unmeasured: false, shared: false, reserved: 0 }, dataType: 'NORMAL', data: new Uint8Array(0) });
    });
    expect(await same(f, 'SEV_SNP', 'svsm-igvmmeasure')).toBe(false);
    expect((await measureBytes(f, 'SEV_SNP', { profileName: 'svsm-igvmmeasure' })).records - (await measureBytes(f, 'SEV_SNP')).records).toBe(511);
  });
  it('--native-zero differs from svsm only for empty NORMAL pages', async () => {
    const data = single('SEV_SNP', (b, m) => b.addPageData(0x1000n, pageOf(1), { mask: m }));
    expect(await same(data, 'SEV_SNP', 'svsm-igvmmeasure-native-zero', 'svsm-igvmmeasure')).toBe(true);
    const empty = single('SEV_SNP', (b, m) => b.addZeroPages(0x1000n, BigInt(PAGE), { mask: m }));
    expect(await same(empty, 'SEV_SNP', 'svsm-igvmmeasure-native-zero', 'svsm-igvmmeasure')).toBe(false);
  });
});

describe('qemu-kvm', () => {
  it('agrees with the default for the layout igvmbuilder produces (inserts first, VMSA last)', async () => {
    const m = await measureBytes(single('SEV_SNP', plainSnp), 'SEV_SNP', { profileName: 'qemu-kvm' });
    expect(await same(single('SEV_SNP', plainSnp), 'SEV_SNP', 'qemu-kvm')).toBe(true);
    expect(m.warnings).toEqual([]);
  });
  it('hands a parameter insert that follows pages to the platform before them', async () => {
    const f = single('SEV_SNP', (b, m) => { b.addPageData(0x1000n, pageOf(1), { mask: m }); parameterInsert(b, 0x40000n, 1, m); });
    expect(await same(f, 'SEV_SNP', 'qemu-kvm')).toBe(false);
    const trace: string[] = [];
    await measureBytes(f, 'SEV_SNP', { profileName: 'qemu-kvm', onRecord: (r) => trace.push(String(r.pageType)) });
    expect(trace).toEqual(['UNMEASURED', 'NORMAL']);
  });
  it('measures the VMSA last and shared pages too, and reports the --check-kvm findings as warnings', async () => {
    const f = single('SEV_SNP', (b, m) => {
      b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(1, { cr0: 0x80000011n }) }, { mask: m, gpa: 0x5000n });
      b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(2, { cr0: 0x31n }) }, { mask: m, gpa: KVM_GPA, vpIndex: 1 });
      parameterInsert(b, 0x40000n, 1, m);
      b.addPageData(0x1000n, pageOf(1), { mask: m });
    });
    expect(await same(f, 'SEV_SNP', 'qemu-kvm')).toBe(false);
    const m = await measureBytes(f, 'SEV_SNP', { profileName: 'qemu-kvm' });
    expect(m.warnings.map((w) => w.message)).toEqual([
      'KVM check: VMSA GPA 0x5000 is not 0xfffffffff000, where KVM places it',
      'KVM check: VMSA CR0 0x80000011 is not 0x31 or 0x30, the value KVM measures',
      "KVM check: more than one VMSA; QEMU/KVM sets only the first vCPU's VMSA",
      'KVM check: a PARAMETER_INSERT follows a VMSA; KVM measures the VMSA at launch finish, so it must be the last page directive',
    ]);
    const shared = single('SEV_SNP', (b, mk) => { plainSnp(b, mk); b.addPageData(0x9000n, pageOf(2), { mask: mk, shared: true }); });
    expect(await same(shared, 'SEV_SNP', 'qemu-kvm')).toBe(false);
  });
});

describe('td-shim', () => {
  const plainTdx = (b: IgvmBuilder, m: number): void => {
    b.addPageData(0x1000n, pageOf(1, 2 * PAGE), { mask: m });
    b.addPageData(0x3000n, pageOf(2), { mask: m, unmeasured: true });
    b.addPageData(0x4000n, pageOf(3), { mask: m, shared: true });
  };
  it('agrees with the default for data pages, unmeasured and shared pages', async () => {
    expect(await same(single('TDX', plainTdx), 'TDX', 'td-shim')).toBe(true);
  });
  it('adds no MR.EXTEND for empty pages', async () => {
    expect(await same(single('TDX', (b, m) => { plainTdx(b, m); b.addZeroPages(0x8000n, BigInt(PAGE), { mask: m }); }), 'TDX', 'td-shim')).toBe(false);
  });
  it('ignores parameter inserts', async () => {
    expect(await same(single('TDX', (b, m) => { plainTdx(b, m); parameterInsert(b, 0x40000n, 1, m); }), 'TDX', 'td-shim')).toBe(false);
  });
  it('ignores compatibility masks', async () => {
    const b = new IgvmBuilder();
    const tdx = b.addPlatform('TDX');
    const native = b.addPlatform('NATIVE');
    plainTdx(b, tdx);
    b.addPageData(0x9000n, pageOf(9), { mask: native });
    expect(await same(b.serialize(), 'TDX', 'td-shim')).toBe(false);
  });
});
