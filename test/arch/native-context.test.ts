import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CR0,
  CR4,
  EFER,
  LONG_MODE_CR0,
  NATIVE_CONTEXT_SIZE,
  checkNativeContext,
  decodeNativeContext,
  describeNativeContext,
  encodeNativeContext,
  entryModeOf,
  longMode64Context,
  protectedMode32Context,
  realModeResetContext,
  toContextPage,
  type NativeVpContextX64Fields,
} from '../../src/arch/x86/index.js';

const VECTORS = process.env['IGVM_VECTORS'] ?? '/work/shared/vectors';
/** File offset of the native VP context page in v2_x64_native_vpctx.igvm. */
const VECTOR_CONTEXT_OFFSET = 0x1078;

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const anyContext: fc.Arbitrary<NativeVpContextX64Fields> = fc.record({
  rax: u64, rcx: u64, rdx: u64, rbx: u64, rsp: u64, rbp: u64, rsi: u64, rdi: u64,
  r8: u64, r9: u64, r10: u64, r11: u64, r12: u64, r13: u64, r14: u64, r15: u64,
  rip: u64, rflags: u64,
  idtrBase: u64, idtrLimit: u16, reserved0: u16, reserved1: u16, gdtrLimit: u16, gdtrBase: u64,
  codeSelector: u16, codeAttributes: u16, codeBase: u32, codeLimit: u32,
  dataSelector: u16, dataAttributes: u16, dataBase: u32, dataLimit: u32,
  gsBase: u64, cr0: u64, cr3: u64, cr4: u64, efer: u64,
});

const flat = { gdtrBase: 0x1000n, gdtrLimit: 0x17 };
const long64 = () => longMode64Context({ ...flat, entry: 0x10_0000n, cr3: 0x9000n });
const prot32 = () => protectedMode32Context({ ...flat, entry: 0x10_0000n });

describe('encode / decode', () => {
  it('encodes 232 bytes and the 4096-byte page form', () => {
    const ctx = realModeResetContext();
    const bytes = encodeNativeContext(ctx);
    expect(bytes.length).toBe(232);
    expect(NATIVE_CONTEXT_SIZE).toBe(232);
    const page = toContextPage(ctx);
    expect(page.length).toBe(4096);
    expect(page.subarray(0, 232)).toEqual(bytes);
    expect(page.subarray(232).every((b) => b === 0)).toBe(true);
    expect(decodeNativeContext(page)).toEqual(ctx);
  });

  it('round-trips whole contexts', () => {
    fc.assert(
      fc.property(anyContext, (ctx) => {
        expect(decodeNativeContext(encodeNativeContext(ctx))).toEqual(ctx);
      }),
    );
  });

  it('round-trips arbitrary 232-byte structs', () => {
    const bytes = fc.uint8Array({ minLength: 232, maxLength: 232 });
    fc.assert(
      fc.property(bytes, (b) => {
        expect(encodeNativeContext(decodeNativeContext(b))).toEqual(b);
      }),
    );
  });

  it('places fields at their spec offsets', () => {
    const bytes = encodeNativeContext({ ...realModeResetContext(), efer: 0x500n, gdtrLimit: 0x1234 });
    const dv = new DataView(bytes.buffer);
    expect(dv.getBigUint64(0x80, true)).toBe(0xfff0n);
    expect(dv.getUint16(0x9e, true)).toBe(0x1234);
    expect(dv.getUint16(0xaa, true)).toBe(0x9b);
    expect(dv.getBigUint64(0xe0, true)).toBe(0x500n);
  });
});

describe('realModeResetContext', () => {
  it('matches the context page of the reference vector byte for byte', () => {
    const file = readFileSync(join(VECTORS, 'v2_x64_native_vpctx.igvm'));
    const fromFile = new Uint8Array(file.buffer, file.byteOffset + VECTOR_CONTEXT_OFFSET, 4096);
    expect(encodeNativeContext(realModeResetContext())).toEqual(fromFile.subarray(0, 232));
    expect(toContextPage(realModeResetContext())).toEqual(fromFile);
  });

  it('starts in real mode with no problems', () => {
    const ctx = realModeResetContext();
    expect(entryModeOf(ctx)).toBe('real16');
    expect(checkNativeContext(ctx)).toEqual([]);
  });
});

describe('protectedMode32Context', () => {
  it('builds flat 32-bit segments with PE | ET', () => {
    const ctx = protectedMode32Context({ ...flat, entry: 0x10_0000n, stack: 0x8000n, codeSelector: 0x18, dataSelector: 0x20 });
    expect(ctx).toMatchObject({
      rip: 0x10_0000n, rsp: 0x8000n, rflags: 2n, cr0: 0x11n, cr3: 0n, cr4: 0n, efer: 0n,
      codeSelector: 0x18, codeAttributes: 0xc09b, codeBase: 0, codeLimit: 0xffff_ffff,
      dataSelector: 0x20, dataAttributes: 0xc093, dataBase: 0, dataLimit: 0xffff_ffff,
      gdtrBase: 0x1000n, gdtrLimit: 0x17, idtrBase: 0n, idtrLimit: 0,
    });
    expect(entryModeOf(ctx)).toBe('protected32');
    expect(checkNativeContext(ctx)).toEqual([]);
  });

  it('defaults selectors to 0x08 / 0x10 and refuses an entry above 4 GiB', () => {
    expect(prot32()).toMatchObject({ codeSelector: 0x08, dataSelector: 0x10, rsp: 0n });
    expect(() => protectedMode32Context({ ...flat, entry: 1n << 32n })).toThrow(/RIP 0x100000000 is above 4 GiB/);
  });
});

describe('longMode64Context', () => {
  it('builds a 64-bit context with paging', () => {
    const ctx = longMode64Context({ ...flat, entry: 0xffff_ffff_8100_0000n, cr3: 0x9000n, stack: 0x7000n, rsi: 0x7e00n });
    expect(ctx).toMatchObject({
      rip: 0xffff_ffff_8100_0000n, rsp: 0x7000n, rsi: 0x7e00n, rflags: 2n,
      cr0: 0x8001_0033n, cr3: 0x9000n, cr4: 0x20n, efer: 0x500n,
      codeSelector: 0x08, codeAttributes: 0xa09b, dataSelector: 0x10, dataAttributes: 0xc093,
    });
    expect(LONG_MODE_CR0).toBe(CR0.PE | CR0.MP | CR0.ET | CR0.NE | CR0.WP | CR0.PG);
    expect(entryModeOf(ctx)).toBe('long64');
    expect(checkNativeContext(ctx)).toEqual([]);
  });

  it('refuses a non-canonical entry', () => {
    expect(() => longMode64Context({ ...flat, entry: 0x8000_0000_0000n, cr3: 0n })).toThrow(/not canonical/);
  });
});

describe('describeNativeContext', () => {
  it('gives a plain view of a long-mode context', () => {
    const view = describeNativeContext({ ...long64(), rbx: 7n, gsBase: 0x5000n });
    expect(view.mode).toBe('long64');
    expect(view.gprs.rbx).toBe(7n);
    expect(Object.keys(view.gprs)).toHaveLength(16);
    expect(view.rip).toBe(0x10_0000n);
    expect(view.gdtr).toEqual({ base: 0x1000n, limit: 0x17 });
    expect(view.idtr).toEqual({ base: 0n, limit: 0 });
    expect(view.cs).toMatchObject({ selector: 0x08, base: 0, limit: 0xffff_ffff, attributes: 0xa09b });
    expect(view.cs.decoded).toMatchObject({ long: true, granularity: true, type: 0xb, dpl: 0 });
    expect(view.cs.typeName).toBe('code, execute/read, accessed');
    expect(view.data.typeName).toBe('data, read/write, accessed');
    expect(view.gsBase).toBe(0x5000n);
    expect([view.cr0, view.cr3, view.cr4, view.efer]).toEqual([0x8001_0033n, 0x9000n, 0x20n, 0x500n]);
  });

  it('derives the entry mode', () => {
    expect(describeNativeContext(realModeResetContext()).mode).toBe('real16');
    expect(describeNativeContext(prot32()).mode).toBe('protected32');
    expect(describeNativeContext({ ...long64(), codeAttributes: 0xc09b }).mode).toBe('compat32');
    // LME + PG + PAE without LMA is long mode: QEMU/KVM set LMA themselves.
    expect(describeNativeContext({ ...long64(), efer: EFER.LME }).mode).toBe('long64');
    // LME + PG without PAE is not.
    expect(entryModeOf({ ...long64(), cr4: 0n, codeAttributes: 0xc09b })).toBe('protected32');
  });
});

describe('checkNativeContext', () => {
  it('accepts LME + PG + PAE without LMA', () => {
    expect(checkNativeContext({ ...long64(), efer: EFER.LME })).toEqual([]);
  });

  it('reports CS.L without long mode', () => {
    expect(checkNativeContext({ ...prot32(), codeAttributes: 0xa09b })).toEqual([
      'CS attributes 0xa09b set L (64-bit code), but long mode is not enabled (EFER 0x0, CR0 0x11): ' +
        '64-bit code needs EFER.LME and CR0.PG',
    ]);
  });

  it('reports CR0.PG without CR0.PE', () => {
    const problems = checkNativeContext({ ...realModeResetContext(), cr0: CR0.PG | CR0.ET });
    expect(problems).toEqual(['CR0 0x80000010 sets PG without PE: paging requires protected mode']);
  });

  it('reports EFER.LME with CR0.PG but no CR4.PAE', () => {
    const problems = checkNativeContext({ ...long64(), cr4: 0n, codeAttributes: 0xc09b });
    expect(problems).toEqual([
      'EFER 0x500 sets LME and CR0 0x80010033 sets PG, but CR4 0x0 lacks PAE: long mode requires PAE paging',
    ]);
  });

  it('reports EFER.LMA without LME and PG', () => {
    expect(checkNativeContext({ ...prot32(), efer: EFER.LMA })).toEqual([
      'EFER 0x400 sets LMA, but LMA needs EFER.LME and CR0.PG (CR0 0x11)',
    ]);
  });

  it('reports a non-canonical RIP in 64-bit mode', () => {
    expect(checkNativeContext({ ...long64(), rip: 0x0000_8000_0000_0000n })).toEqual([
      'RIP 0x800000000000 is not canonical: in 64-bit mode bits 63:47 must all be equal',
    ]);
    expect(checkNativeContext({ ...long64(), rip: 0x0000_7fff_ffff_ffffn })).toEqual([]);
    expect(checkNativeContext({ ...long64(), rip: 0xffff_8000_0000_0000n })).toEqual([]);
    // With 5-level paging (CR4.LA57) bits 63:56 must be equal instead.
    expect(checkNativeContext({ ...long64(), cr4: CR4.PAE | CR4.LA57, rip: 0x0000_8000_0000_0000n })).toEqual([]);
    expect(checkNativeContext({ ...long64(), cr4: CR4.PAE | CR4.LA57, rip: 0x0100_0000_0000_0000n })).toEqual([
      'RIP 0x100000000000000 is not canonical: in 64-bit mode bits 63:56 must all be equal',
    ]);
  });

  it('reports RIP above 4 GiB outside 64-bit mode', () => {
    expect(checkNativeContext({ ...prot32(), rip: 0x1_0000_0000n })).toEqual([
      'RIP 0x100000000 is above 4 GiB, but the context starts in protected32 mode, not 64-bit mode',
    ]);
    expect(checkNativeContext({ ...realModeResetContext(), rip: 0x2_0000_0000n })).toHaveLength(1);
    expect(checkNativeContext({ ...long64(), codeAttributes: 0xc09b, rip: 0x1_0000_0000n })).toEqual([
      'RIP 0x100000000 is above 4 GiB, but the context starts in compat32 mode, not 64-bit mode',
    ]);
    expect(checkNativeContext({ ...prot32(), rip: 0xffff_ffffn })).toEqual([]);
  });

  it('reports attribute bits 11:8 on CS and the data segments', () => {
    expect(checkNativeContext({ ...prot32(), codeAttributes: 0xc19b, dataAttributes: 0xc893 })).toEqual([
      'CS attribute word 0xc19b has reserved bits 11:8 set (0x0100); they must be 0',
      'data segment (DS/ES/FS/GS/SS) attribute word 0xc893 has reserved bits 11:8 set (0x0800); they must be 0',
    ]);
  });
});
