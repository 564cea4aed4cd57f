import { describe, expect, it } from 'vitest';
import { formatHexLine, HexDumper, hexdump } from '../../src/cli/render/hexdump.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('hexdump', () => {
  it('formats a full line like hexdump -C', () => {
    expect(formatHexLine(0n, ascii('IGVM0123456789ab'))).toBe(
      '00000000  49 47 56 4d 30 31 32 33  34 35 36 37 38 39 61 62  |IGVM0123456789ab|',
    );
  });

  it('pads a short last line and ends with the end address', () => {
    expect(hexdump(ascii('hi\n'))).toEqual([
      '00000000  68 69 0a                                          |hi.|',
      '00000003',
    ]);
  });

  it('elides repeated lines with a single *', () => {
    const bytes = new Uint8Array(64);
    bytes[63] = 1;
    const lines = hexdump(bytes);
    expect(lines).toEqual([
      '00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|',
      '*',
      '00000030  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 01  |................|',
      '00000040',
    ]);
  });

  it('elides through the end of the data', () => {
    expect(hexdump(new Uint8Array(4096))).toEqual([
      '00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|',
      '*',
      '00001000',
    ]);
  });

  it('gives the same lines however the input is split', () => {
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i < 40 ? 7 : i));
    const whole = hexdump(bytes, { base: 0x1000n });
    for (const step of [1, 3, 16, 17, 50]) {
      const d = new HexDumper({ base: 0x1000n });
      const lines: string[] = [];
      for (let i = 0; i < bytes.length; i += step) lines.push(...d.push(bytes.subarray(i, i + step)));
      lines.push(...d.end());
      expect(lines).toEqual(whole);
    }
  });

  it('widens the address column above 4 GiB and indents', () => {
    const lines = hexdump(new Uint8Array(16), { base: 0x1_0000_0000n, indent: '  ' });
    expect(lines[0]?.startsWith('  0000000100000000  00')).toBe(true);
    expect(lines[1]).toBe('  0000000100000010');
  });
});
