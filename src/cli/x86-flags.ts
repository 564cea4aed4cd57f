/**
 * Names of the architectural bits of RFLAGS, CR0, CR4 and EFER (Intel SDM vol. 3 §2.3-2.5, AMD APM
 * vol. 2 §3.1), for display. Multi-bit fields (RFLAGS.IOPL) are shown as NAME=value.
 */

interface Bit {
  readonly name: string;
  readonly bit: number;
  readonly width?: number;
}

const RFLAGS_BITS: readonly Bit[] = [
  { name: 'CF', bit: 0 },
  { name: 'PF', bit: 2 },
  { name: 'AF', bit: 4 },
  { name: 'ZF', bit: 6 },
  { name: 'SF', bit: 7 },
  { name: 'TF', bit: 8 },
  { name: 'IF', bit: 9 },
  { name: 'DF', bit: 10 },
  { name: 'OF', bit: 11 },
  { name: 'IOPL', bit: 12, width: 2 },
  { name: 'NT', bit: 14 },
  { name: 'RF', bit: 16 },
  { name: 'VM', bit: 17 },
  { name: 'AC', bit: 18 },
  { name: 'VIF', bit: 19 },
  { name: 'VIP', bit: 20 },
  { name: 'ID', bit: 21 },
];

const CR0_BITS: readonly Bit[] = [
  { name: 'PE', bit: 0 },
  { name: 'MP', bit: 1 },
  { name: 'EM', bit: 2 },
  { name: 'TS', bit: 3 },
  { name: 'ET', bit: 4 },
  { name: 'NE', bit: 5 },
  { name: 'WP', bit: 16 },
  { name: 'AM', bit: 18 },
  { name: 'NW', bit: 29 },
  { name: 'CD', bit: 30 },
  { name: 'PG', bit: 31 },
];

const CR4_BITS: readonly Bit[] = [
  { name: 'VME', bit: 0 },
  { name: 'PVI', bit: 1 },
  { name: 'TSD', bit: 2 },
  { name: 'DE', bit: 3 },
  { name: 'PSE', bit: 4 },
  { name: 'PAE', bit: 5 },
  { name: 'MCE', bit: 6 },
  { name: 'PGE', bit: 7 },
  { name: 'PCE', bit: 8 },
  { name: 'OSFXSR', bit: 9 },
  { name: 'OSXMMEXCPT', bit: 10 },
  { name: 'UMIP', bit: 11 },
  { name: 'LA57', bit: 12 },
  { name: 'VMXE', bit: 13 },
  { name: 'SMXE', bit: 14 },
  { name: 'FSGSBASE', bit: 16 },
  { name: 'PCIDE', bit: 17 },
  { name: 'OSXSAVE', bit: 18 },
  { name: 'SMEP', bit: 20 },
  { name: 'SMAP', bit: 21 },
  { name: 'PKE', bit: 22 },
  { name: 'CET', bit: 23 },
  { name: 'PKS', bit: 24 },
];

const EFER_BITS: readonly Bit[] = [
  { name: 'SCE', bit: 0 },
  { name: 'LME', bit: 8 },
  { name: 'LMA', bit: 10 },
  { name: 'NXE', bit: 11 },
  { name: 'SVME', bit: 12 },
  { name: 'LMSLE', bit: 13 },
  { name: 'FFXSR', bit: 14 },
  { name: 'TCE', bit: 15 },
];

function names(value: bigint, bits: readonly Bit[]): string[] {
  const out: string[] = [];
  let known = 0n;
  for (const b of bits) {
    const width = BigInt(b.width ?? 1);
    const mask = (1n << width) - 1n;
    known |= mask << BigInt(b.bit);
    const field = (value >> BigInt(b.bit)) & mask;
    if (field === 0n) continue;
    out.push(b.width === undefined ? b.name : `${b.name}=${field}`);
  }
  const unknown = value & ~known;
  if (unknown !== 0n) out.push(`other=0x${unknown.toString(16)}`);
  return out;
}

/** RFLAGS bit 1 is always 1 and is not listed. */
export function rflagsNames(value: bigint): string[] {
  return names(value & ~0x2n, RFLAGS_BITS);
}
export function cr0Names(value: bigint): string[] {
  return names(value, CR0_BITS);
}
export function cr4Names(value: bigint): string[] {
  return names(value, CR4_BITS);
}
export function eferNames(value: bigint): string[] {
  return names(value, EFER_BITS);
}
