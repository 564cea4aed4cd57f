/**
 * Canonical hex+ASCII dumps in the style of `hexdump -C`: 16 bytes a line, an address column, two
 * groups of eight hex bytes, the printable ASCII between bars; a full line identical to the line
 * before it is elided, and a run of elided lines shows as a single `*`; the last line is the address
 * just past the data. Works in a stream so that large payloads never need to sit in memory whole.
 */

const BYTES_PER_LINE = 16;

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function ascii(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface HexDumpOptions {
  /** Address shown for the first byte (e.g. a GPA). Default 0. */
  readonly base?: bigint;
  /** Minimum hex digits in the address column. Default 8, or 16 when `base` is above 4 GiB. */
  readonly addressDigits?: number;
  /** Prefix for every line (indentation). */
  readonly indent?: string;
}

/** One formatted line for up to 16 bytes at `address`. */
export function formatHexLine(address: bigint, bytes: Uint8Array, addressDigits = 8): string {
  let hexPart = '';
  let text = '';
  for (let i = 0; i < BYTES_PER_LINE; i++) {
    const b = bytes[i];
    hexPart += b === undefined ? '   ' : `${hex2(b)} `;
    if (i === 7) hexPart += ' ';
    if (b !== undefined) text += ascii(b);
  }
  return `${address.toString(16).padStart(addressDigits, '0')}  ${hexPart} |${text}|`;
}

export class HexDumper {
  private readonly base: bigint;
  private readonly digits: number;
  private readonly indent: string;
  /** Bytes of an incomplete line carried over to the next push. */
  private carry = new Uint8Array(BYTES_PER_LINE);
  private carried = 0;
  /** Offset (from base) of the next line to emit. */
  private offset = 0n;
  private previous: Uint8Array | undefined;
  private eliding = false;
  private ended = false;

  constructor(options: HexDumpOptions = {}) {
    this.base = options.base ?? 0n;
    this.digits = options.addressDigits ?? (this.base > 0xffff_ffffn ? 16 : 8);
    this.indent = options.indent ?? '';
  }

  /** Feed the next bytes; returns the lines now complete. */
  push(bytes: Uint8Array): string[] {
    if (this.ended) throw new Error('HexDumper: push after end');
    const lines: string[] = [];
    let i = 0;
    if (this.carried > 0) {
      const take = Math.min(BYTES_PER_LINE - this.carried, bytes.length);
      this.carry.set(bytes.subarray(0, take), this.carried);
      this.carried += take;
      i = take;
      if (this.carried < BYTES_PER_LINE) return lines;
      this.fullLine(this.carry.slice(), lines);
      this.carried = 0;
    }
    for (; i + BYTES_PER_LINE <= bytes.length; i += BYTES_PER_LINE) {
      this.fullLine(bytes.subarray(i, i + BYTES_PER_LINE), lines);
    }
    if (i < bytes.length) {
      this.carry.set(bytes.subarray(i), 0);
      this.carried = bytes.length - i;
    }
    return lines;
  }

  /** Flush the last partial line and the end address. */
  end(): string[] {
    if (this.ended) return [];
    this.ended = true;
    const lines: string[] = [];
    if (this.carried > 0) {
      // A partial line is never elided (it cannot equal a full one).
      lines.push(this.indent + formatHexLine(this.base + this.offset, this.carry.subarray(0, this.carried), this.digits));
      this.offset += BigInt(this.carried);
      this.carried = 0;
    }
    lines.push(this.indent + (this.base + this.offset).toString(16).padStart(this.digits, '0'));
    return lines;
  }

  private fullLine(bytes: Uint8Array, lines: string[]): void {
    if (this.previous && sameBytes(this.previous, bytes)) {
      if (!this.eliding) lines.push(`${this.indent}*`);
      this.eliding = true;
    } else {
      lines.push(this.indent + formatHexLine(this.base + this.offset, bytes, this.digits));
      this.eliding = false;
      this.previous = bytes.slice();
    }
    this.offset += BigInt(BYTES_PER_LINE);
  }
}

/** Dump `bytes` in one go. */
export function hexdump(bytes: Uint8Array, options: HexDumpOptions = {}): string[] {
  const d = new HexDumper(options);
  return [...d.push(bytes), ...d.end()];
}
