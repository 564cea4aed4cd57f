import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeSegmentAttributes,
  describeSegmentType,
  encodeSegmentAttributes,
  validateAttributeWord,
} from '../../src/arch/x86/index.js';

describe('decodeSegmentAttributes', () => {
  it('decodes 64-bit code 0xa09b', () => {
    expect(decodeSegmentAttributes(0xa09b)).toEqual({
      type: 0xb,
      s: true,
      dpl: 0,
      present: true,
      avl: false,
      long: true,
      defaultBig: false,
      granularity: true,
    });
  });

  it('decodes every field position', () => {
    expect(decodeSegmentAttributes(0x1000).avl).toBe(true);
    expect(decodeSegmentAttributes(0x4000).defaultBig).toBe(true);
    expect(decodeSegmentAttributes(0x0060).dpl).toBe(3);
    expect(decodeSegmentAttributes(0x0093)).toMatchObject({ type: 3, s: true, present: true, defaultBig: false });
  });

  it('rejects words outside 16 bits', () => {
    expect(() => decodeSegmentAttributes(0x10000)).toThrow(RangeError);
    expect(() => decodeSegmentAttributes(-1)).toThrow(RangeError);
    expect(() => decodeSegmentAttributes(1.5)).toThrow(RangeError);
  });
});

describe('encodeSegmentAttributes', () => {
  it('round-trips every word with bits 11:8 clear', () => {
    const word = fc.integer({ min: 0, max: 0xffff }).map((w) => w & ~0x0f00);
    fc.assert(fc.property(word, (w) => encodeSegmentAttributes(decodeSegmentAttributes(w)) === w));
  });

  it('round-trips every attribute record', () => {
    const attrs = fc.record({
      type: fc.integer({ min: 0, max: 15 }),
      s: fc.boolean(),
      dpl: fc.integer({ min: 0, max: 3 }),
      present: fc.boolean(),
      avl: fc.boolean(),
      long: fc.boolean(),
      defaultBig: fc.boolean(),
      granularity: fc.boolean(),
    });
    fc.assert(
      fc.property(attrs, (a) => {
        expect(decodeSegmentAttributes(encodeSegmentAttributes(a))).toEqual(a);
      }),
    );
  });

  it('rejects out-of-range type and DPL', () => {
    const base = decodeSegmentAttributes(0xc093);
    expect(() => encodeSegmentAttributes({ ...base, type: 16 })).toThrow(RangeError);
    expect(() => encodeSegmentAttributes({ ...base, dpl: 4 })).toThrow(RangeError);
  });
});

describe('validateAttributeWord', () => {
  it('accepts words with bits 11:8 clear', () => {
    expect(validateAttributeWord(0xc09b)).toBeUndefined();
    expect(validateAttributeWord(0xf0ff)).toBeUndefined();
  });

  it('reports reserved bits 11:8', () => {
    expect(validateAttributeWord(0x0f9b)).toBe(
      'attribute word 0x0f9b has reserved bits 11:8 set (0x0f00); they must be 0',
    );
    expect(validateAttributeWord(0x0193)).toContain('(0x0100)');
  });
});

describe('describeSegmentType', () => {
  it('describes code and data types', () => {
    expect(describeSegmentType(0xb, true)).toBe('code, execute/read, accessed');
    expect(describeSegmentType(0x8, true)).toBe('code, execute-only');
    expect(describeSegmentType(0xf, true)).toBe('code, execute/read, conforming, accessed');
    expect(describeSegmentType(0x3, true)).toBe('data, read/write, accessed');
    expect(describeSegmentType(0x0, true)).toBe('data, read-only');
    expect(describeSegmentType(0x6, true)).toBe('data, read/write, expand-down');
  });

  it('describes system types in legacy and IA-32e mode', () => {
    expect(describeSegmentType(0x2, false)).toBe('LDT');
    expect(describeSegmentType(0xb, false)).toBe('TSS 32-bit busy');
    expect(describeSegmentType(0xb, false, true)).toBe('TSS 64-bit busy');
    expect(describeSegmentType(0x1, false)).toBe('TSS 16-bit available');
    expect(describeSegmentType(0x1, false, true)).toBe('reserved system type');
    expect(describeSegmentType(0xe, false, true)).toBe('interrupt gate 64-bit');
    expect(describeSegmentType(0x0, false)).toBe('reserved system type');
  });

  it('rejects types outside 0..15', () => {
    expect(() => describeSegmentType(16, true)).toThrow(RangeError);
  });
});
