import { describe, expect, it } from 'vitest';
import { flatGdt64, identityPageTables } from '../../src/build/long-mode.js';

/** Walk 4-level tables stored in `bytes` (placed at `base`) for a linear address, as the MMU does. */
function translate(bytes: Uint8Array, base: bigint, linear: bigint): bigint | undefined {
  const dv = new DataView(bytes.buffer);
  const entry = (table: bigint, index: bigint) => dv.getBigUint64(Number(table - base + index * 8n), true);
  const pml4e = entry(base, (linear >> 39n) & 511n);
  if (!(pml4e & 1n)) return undefined;
  const pdpte = entry(pml4e & ~0xfffn, (linear >> 30n) & 511n);
  if (!(pdpte & 1n)) return undefined;
  const pde = entry(pdpte & ~0xfffn, (linear >> 21n) & 511n);
  if (!(pde & 1n)) return undefined;
  if (pde & 0x80n) return (pde & ~0x1f_ffffn & 0xf_ffff_ffff_f000n) | (linear & 0x1f_ffffn);
  const pte = entry(pde & ~0xfffn, (linear >> 12n) & 511n);
  if (!(pte & 1n)) return undefined;
  return (pte & 0xf_ffff_ffff_f000n) | (linear & 0xfffn);
}

describe('identity page tables', () => {
  it.each(['2M', '4K'] as const)('map every address below the map size to itself (%s pages)', (pageSize) => {
    const base = 0x10_0000n;
    const mapSize = 64n << 20n;
    const { cr3, bytes } = identityPageTables({ base, mapSize, pageSize });
    expect(cr3).toBe(base);
    expect(bytes.length).toBe(pageSize === '2M' ? 3 * 4096 : (3 + 32) * 4096);
    for (const a of [0n, 0xfffn, 0x1000n, 0x1f_ffffn, 0x20_0000n, 0x12_3456n, mapSize - 1n]) {
      expect(translate(bytes, base, a)).toBe(a);
    }
    expect(translate(bytes, base, mapSize)).toBeUndefined();
  });

  it('map 4 GiB by default with 2 MiB pages in 4 page directories', () => {
    const { bytes } = identityPageTables({ base: 0x1000n });
    expect(bytes.length).toBe(6 * 4096);
    expect(translate(bytes, 0x1000n, 0xfee0_0000n)).toBe(0xfee0_0000n);
    expect(translate(bytes, 0x1000n, 0x1_0000_0000n)).toBeUndefined();
  });

  it('refuse unaligned bases and sizes', () => {
    expect(() => identityPageTables({ base: 0x1001n })).toThrow(RangeError);
    expect(() => identityPageTables({ base: 0x1000n, mapSize: 0x1000n })).toThrow(RangeError);
  });
});

describe('flat GDT', () => {
  it('has 64-bit code at 0x08, data at 0x10 and 32-bit code at 0x18', () => {
    const dv = new DataView(flatGdt64().buffer);
    expect(dv.getBigUint64(0, true)).toBe(0n);
    const code = dv.getBigUint64(8, true);
    expect((code >> 40n) & 0xffn).toBe(0x9bn); // present, code, execute/read, accessed
    expect((code >> 53n) & 1n).toBe(1n); // L
    const data = dv.getBigUint64(16, true);
    expect((data >> 40n) & 0xffn).toBe(0x93n);
    const code32 = dv.getBigUint64(24, true);
    expect((code32 >> 40n) & 0xffn).toBe(0x9bn);
    expect((code32 >> 53n) & 3n).toBe(2n); // L=0, D=1
  });
});
