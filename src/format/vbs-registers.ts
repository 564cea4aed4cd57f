/**
 * Hyper-V register names that the reference can carry in a VBS (VSM_ISOLATION) VP context, with how
 * each value is encoded in the 16-byte HV_REGISTER_VALUE.
 */
import type { ArchitectureName } from './constants.js';

export type VbsValueKind = 'scalar' | 'segment' | 'table';

export interface VbsRegisterSpec {
  readonly name: string;
  readonly code: number;
  readonly kind: VbsValueKind;
}

function scalars(entries: Record<string, number>): VbsRegisterSpec[] {
  return Object.entries(entries).map(([name, code]) => ({ name, code, kind: 'scalar' as const }));
}

const X64_REGISTERS: readonly VbsRegisterSpec[] = [
  { name: 'Gdtr', code: 0x70001, kind: 'table' },
  { name: 'Idtr', code: 0x70000, kind: 'table' },
  { name: 'Es', code: 0x60000, kind: 'segment' },
  { name: 'Cs', code: 0x60001, kind: 'segment' },
  { name: 'Ss', code: 0x60002, kind: 'segment' },
  { name: 'Ds', code: 0x60003, kind: 'segment' },
  { name: 'Fs', code: 0x60004, kind: 'segment' },
  { name: 'Gs', code: 0x60005, kind: 'segment' },
  { name: 'Tr', code: 0x60007, kind: 'segment' },
  ...scalars({
    Cr0: 0x40000,
    Cr3: 0x40002,
    Cr4: 0x40003,
    Efer: 0x80001,
    Pat: 0x80004,
    Rsp: 0x20004,
    Rbp: 0x20005,
    Rsi: 0x20006,
    R8: 0x20008,
    R9: 0x20009,
    R10: 0x2000a,
    R11: 0x2000b,
    R12: 0x2000c,
    Rip: 0x20010,
    Rflags: 0x20011,
    MtrrDefType: 0x8000e,
    MtrrPhysBase0: 0x80010,
    MtrrPhysBase1: 0x80011,
    MtrrPhysBase2: 0x80012,
    MtrrPhysBase3: 0x80013,
    MtrrPhysBase4: 0x80014,
    MtrrPhysMask0: 0x80040,
    MtrrPhysMask1: 0x80041,
    MtrrPhysMask2: 0x80042,
    MtrrPhysMask3: 0x80043,
    MtrrPhysMask4: 0x80044,
    MtrrFix64k00000: 0x80070,
    MtrrFix16k80000: 0x80071,
    MtrrFix4kE0000: 0x80077,
    MtrrFix4kE8000: 0x80078,
    MtrrFix4kF0000: 0x80079,
    MtrrFix4kF8000: 0x8007a,
  }),
];

const AARCH64_REGISTERS: readonly VbsRegisterSpec[] = scalars({
  X0: 0x20000,
  X1: 0x20001,
  X2: 0x20002,
  X3: 0x20003,
  X4: 0x20004,
  X5: 0x20005,
  X6: 0x20006,
  X7: 0x20007,
  Pc: 0x20022,
  Cpsr: 0x20023,
  SctlrEl1: 0x40002,
  Ttbr0El1: 0x40005,
  Ttbr1El1: 0x40006,
  TcrEl1: 0x40007,
  MairEl1: 0x4000b,
  VbarEl1: 0x4000c,
});

const TABLES: Record<ArchitectureName, { byCode: Map<number, VbsRegisterSpec>; byName: Map<string, VbsRegisterSpec> }> = {
  X64: index(X64_REGISTERS),
  AARCH64: index(AARCH64_REGISTERS),
};

function index(specs: readonly VbsRegisterSpec[]) {
  return {
    byCode: new Map(specs.map((s) => [s.code, s])),
    byName: new Map(specs.map((s) => [s.name, s])),
  };
}

export function vbsRegisterByCode(arch: ArchitectureName, code: number): VbsRegisterSpec | undefined {
  return TABLES[arch].byCode.get(code);
}

export function vbsRegisterByName(arch: ArchitectureName, name: string): VbsRegisterSpec | undefined {
  return TABLES[arch].byName.get(name);
}
