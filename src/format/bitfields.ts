/** Bitfields of the IGVM format, declared as (name, first bit, width) tables, LSB first. */

interface BitSpec {
  readonly name: string;
  readonly bit: number;
  readonly width?: number;
}

type Decoded<S extends readonly BitSpec[], V> = {
  -readonly [P in S[number] as P['name']]: P['width'] extends number ? V : boolean;
} & { reserved: V };

export interface Bitfield<S extends readonly BitSpec[], V extends number | bigint> {
  readonly specs: S;
  decode(value: V): Decoded<S, V>;
  encode(fields: Partial<Decoded<S, V>>): V;
}

function mask(width: number): bigint {
  return (1n << BigInt(width)) - 1n;
}

function defineBits<const S extends readonly BitSpec[], V extends number | bigint>(
  totalBits: number,
  specs: S,
  fromBig: (v: bigint) => V,
  fromNumber: (v: number) => V,
): Bitfield<S, V> {
  let known = 0n;
  for (const s of specs) known |= mask(s.width ?? 1) << BigInt(s.bit);
  const reservedMask = mask(totalBits) & ~known;
  // Fields of 32-bit words decode with number arithmetic: parsers call this once per page.
  const small = totalBits <= 32;
  const smallReserved = Number(reservedMask);
  return {
    specs,
    decode(value) {
      const out: Record<string, boolean | V> = {};
      if (small) {
        const v = Number(value);
        for (const s of specs) {
          const width = s.width ?? 1;
          const field = width >= 32 ? v >>> 0 : (v >>> s.bit) & ((1 << width) - 1);
          out[s.name] = s.width === undefined ? field === 1 : fromNumber(field);
        }
        out['reserved'] = fromNumber((v & smallReserved) >>> 0);
        return out as Decoded<S, V>;
      }
      const v = BigInt(value);
      for (const s of specs) {
        const field = (v >> BigInt(s.bit)) & mask(s.width ?? 1);
        out[s.name] = s.width === undefined ? field === 1n : fromBig(field);
      }
      out['reserved'] = fromBig(v & reservedMask);
      return out as Decoded<S, V>;
    },
    encode(fields) {
      const record = fields as Record<string, boolean | V | undefined>;
      let v = 0n;
      for (const s of specs) {
        const f = record[s.name];
        if (f === undefined || f === false) continue;
        const raw = f === true ? 1n : BigInt(f);
        v |= (raw & mask(s.width ?? 1)) << BigInt(s.bit);
      }
      const reserved = record['reserved'];
      if (reserved !== undefined && typeof reserved !== 'boolean') v |= BigInt(reserved) & reservedMask;
      return fromBig(v);
    },
  };
}

const toNumber = (v: bigint): number => Number(v);
const toBigint = (v: bigint): bigint => v;

export const PageDataFlags = defineBits(32, [
  { name: 'is2mbPage', bit: 0 },
  { name: 'unmeasured', bit: 1 },
  { name: 'shared', bit: 2 },
] as const, toNumber, (n) => n);

export const EnvironmentInfo = defineBits(32, [{ name: 'memoryIsShared', bit: 0 }] as const, toNumber, (n) => n);

export const RequiredMemoryFlags = defineBits(32, [{ name: 'vtl2Protectable', bit: 0 }] as const, toNumber, (n) => n);

export const SnpPolicy = defineBits(64, [
  { name: 'abiMinor', bit: 0, width: 8 },
  { name: 'abiMajor', bit: 8, width: 8 },
  { name: 'smt', bit: 16 },
  { name: 'reservedMustBeOne', bit: 17 },
  { name: 'migrateMa', bit: 18 },
  { name: 'debug', bit: 19 },
  { name: 'singleSocket', bit: 20 },
] as const, toBigint, (n) => BigInt(n));

export const TdxPolicy = defineBits(64, [
  { name: 'debugAllowed', bit: 0 },
  { name: 'septVeDisable', bit: 1 },
  { name: 'migratable', bit: 2 },
] as const, toBigint, (n) => BigInt(n));

export const SevFeatures = defineBits(64, [
  { name: 'snp', bit: 0 },
  { name: 'vtom', bit: 1 },
  { name: 'reflectVc', bit: 2 },
  { name: 'restrictInjection', bit: 3 },
  { name: 'alternateInjection', bit: 4 },
  { name: 'debugSwap', bit: 5 },
  { name: 'preventHostIbs', bit: 6 },
  { name: 'snpBtbIsolation', bit: 7 },
  { name: 'vmplSupervisorShadowStack', bit: 8 },
  { name: 'secureTsc', bit: 9 },
  { name: 'vmsaRegProtection', bit: 14 },
  { name: 'smtProtection', bit: 15 },
] as const, toBigint, (n) => BigInt(n));

export const RelocationFlags = defineBits(8, [
  { name: 'isVtl2', bit: 0 },
  { name: 'applyRip', bit: 1 },
  { name: 'applyGdtr', bit: 2 },
] as const, toNumber, (n) => n);
