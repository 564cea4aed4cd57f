import { describe, expect, it } from 'vitest';
import { FOUR_GIB, GiB, MiB, q35Layout } from '../../src/arch/x86/q35-layout.js';

describe('q35Layout', () => {
  it('splits RAM at 2 GiB only from 2.75 GiB up, as QEMU q35 (pc_q35_init lowmem)', () => {
    expect(q35Layout(2560n * MiB).ram).toEqual([{ gpa: 0n, size: 2560n * MiB }]);
    expect(q35Layout(0xaff0_0000n).ram).toEqual([{ gpa: 0n, size: 0xaff0_0000n }]);
    expect(q35Layout(0xb000_0000n).ram).toEqual([
      { gpa: 0n, size: 2n * GiB },
      { gpa: FOUR_GIB, size: 0x3000_0000n },
    ]);
    expect(q35Layout(3n * GiB).e820.map((e) => e.type)).toEqual(['ram', 'reserved', 'ram']);
  });
});
