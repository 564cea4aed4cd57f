/**
 * x86 segment attribute words in the VMX access-rights layout used by IGVM native contexts
 * (bytes 5-6 of a descriptor): bits 3:0 type, 4 S, 6:5 DPL, 7 P, 11:8 reserved, 12 AVL, 13 L, 14 D/B, 15 G.
 */

export interface SegmentAttributes {
  /** Descriptor type, 0..15: for code/data, bit 3 = code, bit 0 = accessed. */
  type: number;
  /** true for code/data segments, false for system segments (TSS, LDT, gates). */
  s: boolean;
  /** Descriptor privilege level, 0..3. */
  dpl: number;
  present: boolean;
  avl: boolean;
  /** L: 64-bit code segment (only meaningful for CS in long mode). */
  long: boolean;
  /** D/B: 32-bit default operand size / big stack. */
  defaultBig: boolean;
  /** G: limit is in 4 KiB units in the descriptor (IGVM limits are already byte-granular). */
  granularity: boolean;
}

const S_BIT = 1 << 4;
const P_BIT = 1 << 7;
const RESERVED_MASK = 0x0f00;
const AVL_BIT = 1 << 12;
const L_BIT = 1 << 13;
const DB_BIT = 1 << 14;
const G_BIT = 1 << 15;

function hex16(word: number): string {
  return `0x${word.toString(16).padStart(4, '0')}`;
}

function checkAttributeWord(word: number): void {
  if (!Number.isInteger(word) || word < 0 || word > 0xffff) {
    throw new RangeError(`segment attribute word must be an integer in 0..0xffff, got ${String(word)}`);
  }
}

/** Decode a 16-bit attribute word. Reserved bits 11:8 are ignored; see `validateAttributeWord`. */
export function decodeSegmentAttributes(word: number): SegmentAttributes {
  checkAttributeWord(word);
  return {
    type: word & 0xf,
    s: (word & S_BIT) !== 0,
    dpl: (word >> 5) & 3,
    present: (word & P_BIT) !== 0,
    avl: (word & AVL_BIT) !== 0,
    long: (word & L_BIT) !== 0,
    defaultBig: (word & DB_BIT) !== 0,
    granularity: (word & G_BIT) !== 0,
  };
}

export function encodeSegmentAttributes(attrs: SegmentAttributes): number {
  if (!Number.isInteger(attrs.type) || attrs.type < 0 || attrs.type > 15) {
    throw new RangeError(`segment type must be an integer in 0..15, got ${String(attrs.type)}`);
  }
  if (!Number.isInteger(attrs.dpl) || attrs.dpl < 0 || attrs.dpl > 3) {
    throw new RangeError(`segment DPL must be an integer in 0..3, got ${String(attrs.dpl)}`);
  }
  return (
    attrs.type |
    (attrs.s ? S_BIT : 0) |
    (attrs.dpl << 5) |
    (attrs.present ? P_BIT : 0) |
    (attrs.avl ? AVL_BIT : 0) |
    (attrs.long ? L_BIT : 0) |
    (attrs.defaultBig ? DB_BIT : 0) |
    (attrs.granularity ? G_BIT : 0)
  );
}

/** A problem sentence when reserved bits 11:8 are set (the IGVM spec requires them to be 0), else undefined. */
export function validateAttributeWord(word: number): string | undefined {
  checkAttributeWord(word);
  const reserved = word & RESERVED_MASK;
  if (reserved === 0) return undefined;
  return `attribute word ${hex16(word)} has reserved bits 11:8 set (${hex16(reserved)}); they must be 0`;
}

// System descriptor types (S=0) differ between legacy and IA-32e mode (Intel SDM vol. 3, table 3-2).
const LEGACY_SYSTEM_TYPES = [
  'reserved system type',
  'TSS 16-bit available',
  'LDT',
  'TSS 16-bit busy',
  'call gate 16-bit',
  'task gate',
  'interrupt gate 16-bit',
  'trap gate 16-bit',
  'reserved system type',
  'TSS 32-bit available',
  'reserved system type',
  'TSS 32-bit busy',
  'call gate 32-bit',
  'reserved system type',
  'interrupt gate 32-bit',
  'trap gate 32-bit',
] as const;

const LONG_MODE_SYSTEM_TYPES: Readonly<Record<number, string>> = {
  2: 'LDT',
  9: 'TSS 64-bit available',
  11: 'TSS 64-bit busy',
  12: 'call gate 64-bit',
  14: 'interrupt gate 64-bit',
  15: 'trap gate 64-bit',
};

/**
 * A short description of a descriptor type, e.g. "code, execute/read, accessed" or "TSS 64-bit busy".
 * `longMode` selects the IA-32e interpretation of system types; code/data types are the same in both.
 */
export function describeSegmentType(type: number, s: boolean, longMode = false): string {
  if (!Number.isInteger(type) || type < 0 || type > 15) {
    throw new RangeError(`segment type must be an integer in 0..15, got ${String(type)}`);
  }
  if (!s) {
    const name = longMode ? LONG_MODE_SYSTEM_TYPES[type] : LEGACY_SYSTEM_TYPES[type];
    return name ?? 'reserved system type';
  }
  const isCode = (type & 8) !== 0;
  const parts = isCode
    ? ['code', type & 2 ? 'execute/read' : 'execute-only', ...(type & 4 ? ['conforming'] : [])]
    : ['data', type & 2 ? 'read/write' : 'read-only', ...(type & 4 ? ['expand-down'] : [])];
  if (type & 1) parts.push('accessed');
  return parts.join(', ');
}
