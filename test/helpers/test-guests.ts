/**
 * IGVM files for the test guests of guests/tests/: each enters in one CPU mode, saves every register
 * it can observe and compares them with the values this module bakes into the file at EXPECT (in
 * the IgvmNativeVpContextX64 layout), printing `CHECK OK` or one `MISMATCH` line per difference.
 */
import {
  longMode64Context,
  protectedMode32Context,
  resetState,
  applyNativeContext,
  type BootCpuState,
} from '../../src/arch/x86/index.js';
import { addPagingStructures, GDT_SELECTORS } from '../../src/build/long-mode.js';
import { assembleGuest } from '../../src/build/toolchain.js';
import { IgvmBuilder, NativeVpContextX64, type NativeVpContextX64Fields } from '../../src/format/index.js';

export const LAYOUT = {
  /** 2 MiB-page tables mapping 4 GiB, 0x1000-0x6fff (lib/enter64.S expects them here too). */
  pageTables: 0x1000n,
  /** 4 KiB-page tables for the long64-4k guest, mapping the first 4 MiB. */
  pageTables4k: 0x2_0000n,
  gdt: 0x7000n,
  expect: 0x8000n,
  seen: 0x8800n,
  stack: 0x8_0000n,
  code: 0x10_0000n,
  /** RAM the file does not cover: the reset guest leaves its marker here. */
  marker: 0x30_0000n,
} as const;

export type TestGuestKind = 'long64-2m' | 'long64-4k' | 'protected32' | 'real16' | 'reset';

export interface TestGuestFile {
  readonly bytes: Uint8Array;
  /** The register values the guest expects to observe (what the file says, architecturally). */
  readonly expected: NativeVpContextX64Fields;
}

/** What a guest observes of a boot state, in the native-context layout the guest compares with. */
export function observable(state: BootCpuState): NativeVpContextX64Fields {
  return {
    ...state.gprs,
    rip: state.rip,
    rflags: state.rflags,
    idtrBase: state.idt.base,
    idtrLimit: state.idt.limit,
    reserved0: 0,
    reserved1: 0,
    gdtrLimit: state.gdt.limit,
    gdtrBase: state.gdt.base,
    codeSelector: state.segments.cs.selector,
    codeAttributes: 0,
    codeBase: 0,
    codeLimit: 0,
    dataSelector: state.segments.ds.selector,
    dataAttributes: 0,
    dataBase: 0,
    dataLimit: 0,
    gsBase: state.segments.gs.base,
    cr0: state.cr0,
    cr3: state.cr3,
    cr4: state.cr4,
    efer: state.efer,
  };
}

/** Distinct values in every GPR, so that a register loaded into the wrong place shows. */
function markedGprs(width: 32 | 64): Partial<NativeVpContextX64Fields> {
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
  const out: Partial<Record<(typeof names)[number], bigint>> = {};
  names.forEach((n, i) => {
    const v = BigInt(i + 1) * 0x0101_0101n + 0x1000_0000n;
    out[n] = width === 64 ? (v << 32n) | v : n.startsWith('r') && /\d/.test(n) ? 0n : v;
  });
  return out;
}

function sourcesFor(kind: TestGuestKind): string[] {
  switch (kind) {
    case 'long64-2m':
    case 'long64-4k':
    case 'reset':
      return ['tests/long64.S', 'lib/check64.S', 'lib/serial.S'];
    case 'protected32':
      return ['tests/protected32.S', 'lib/enter64.S', 'lib/check64.S', 'lib/serial.S'];
    case 'real16':
      return ['tests/real16.S', 'lib/enter64.S', 'lib/check64.S', 'lib/serial.S'];
  }
}

/**
 * `wrongExpectations` overrides what the file says the guest will see: for tests of the checker itself.
 * `context` overrides fields of the VP context (and so of what the guest expects), e.g. a `gsBase`
 * equal to the data base for loaders that ignore gs_base.
 */
export async function buildTestGuest(
  kind: TestGuestKind,
  wrongExpectations: Partial<NativeVpContextX64Fields> = {},
  context: Partial<NativeVpContextX64Fields> = {},
): Promise<TestGuestFile> {
  const image = await assembleGuest(sourcesFor(kind), {
    layout: kind === 'real16' ? 'reset-vector' : 'flat',
    loadAddress: LAYOUT.code,
    defines: kind === 'reset' ? { RESET_TEST: 1 } : {},
  });
  const b = new IgvmBuilder({ formatVersion: 2, architecture: 'X64', pageSize: 4096 });
  b.addPlatform('NATIVE');
  const { cr3, gdtLimit } = addPagingStructures(
    b,
    kind === 'long64-4k'
      ? { base: LAYOUT.pageTables4k, pageSize: '4K', mapSize: 4n << 20n }
      : // All 4 GiB: real16 runs from the top page below 4 GiB when it turns paging on.
        { base: LAYOUT.pageTables, pageSize: '2M', mapSize: 4n << 30n },
    LAYOUT.gdt,
  );
  b.addPageData(image.loadAddress, image.bytes);

  let state: BootCpuState;
  if (kind === 'real16') {
    state = resetState();
  } else {
    const entry = image.symbols.get('_start')!;
    const fields: NativeVpContextX64Fields =
      kind === 'protected32'
        ? {
            ...protectedMode32Context({ entry, stack: LAYOUT.stack, gdtrBase: LAYOUT.gdt, gdtrLimit: gdtLimit, codeSelector: GDT_SELECTORS.code32 }),
            ...markedGprs(32),
            rflags: 0x46n,
          }
        : {
            ...longMode64Context({ entry, cr3, stack: LAYOUT.stack, gdtrBase: LAYOUT.gdt, gdtrLimit: gdtLimit }),
            ...markedGprs(64),
            rflags: 0x46n,
            idtrBase: 0x6000n,
            idtrLimit: 0xfff,
            gsBase: 0xffff_8000_0012_3000n,
          };
    b.setNativeContext({ ...fields, ...context });
    state = applyNativeContext(resetState(), { ...fields, ...context });
  }
  const expected = { ...observable(state), ...wrongExpectations };
  b.addPageData(LAYOUT.expect, NativeVpContextX64.encode(expected));
  return { bytes: b.serialize(), expected };
}
