/**
 * The port I/O bus: port ranges -> devices. An access goes to the device whose range holds its first
 * port (offset = port - base). Unclaimed ports read as all ones and ignore writes, like an ISA bus
 * with nothing on it, and are counted so that a guest hammering a missing device shows in `stats`.
 */

/** A device on the port I/O bus. `size` is 1, 2 or 4; values are unsigned. */
export interface PioDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
  /** Back to the power-on state (system reset). */
  reset?(): void;
}

interface Mapping {
  readonly base: number;
  readonly length: number;
  readonly name: string;
  readonly device: PioDevice;
}

export interface UnclaimedPort {
  readonly port: number;
  reads: number;
  writes: number;
}

export interface PioStats {
  readonly unclaimedReads: number;
  readonly unclaimedWrites: number;
  /** The unclaimed ports, most accessed first. */
  readonly unclaimedPorts: readonly UnclaimedPort[];
}

export function allOnes(size: number): number {
  return size >= 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

export class PioBus {
  private readonly mappings: Mapping[] = [];
  private readonly unclaimed = new Map<number, UnclaimedPort>();
  private unclaimedReads = 0;
  private unclaimedWrites = 0;

  register(base: number, length: number, name: string, device: PioDevice): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > 0x10000) {
      throw new RangeError(`${name}: port range ${hex(base)} (+${length}) is not within 0..0xffff`);
    }
    const clash = this.mappings.find((m) => base < m.base + m.length && m.base < base + length);
    if (clash) throw new RangeError(`${name} at ${hex(base)} (+${length}) overlaps ${clash.name} at ${hex(clash.base)} (+${clash.length})`);
    this.mappings.push({ base, length, name, device });
  }

  /** The device name at `port`, or undefined. */
  deviceAt(port: number): string | undefined {
    return this.find(port)?.name;
  }

  read(port: number, size: number): number {
    const m = this.find(port);
    if (m) return m.device.read(port - m.base, size) >>> 0;
    this.unclaimedReads++;
    this.count(port).reads++;
    return allOnes(size);
  }

  write(port: number, size: number, value: number): void {
    const m = this.find(port);
    if (m) return m.device.write(port - m.base, size, value >>> 0);
    this.unclaimedWrites++;
    this.count(port).writes++;
  }

  /** An IN (or INS: `count` items) exit: fill `data` with `count` reads of `size` bytes. */
  handleIn(port: number, size: number, count: number, data: Uint8Array): void {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < count; i++) setValue(dv, i * size, size, this.read(port, size));
  }

  /** An OUT (or OUTS) exit: `count` writes of `size` bytes taken from `data`. */
  handleOut(port: number, size: number, count: number, data: Uint8Array): void {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < count; i++) this.write(port, size, getValue(dv, i * size, size));
  }

  reset(): void {
    for (const m of this.mappings) m.device.reset?.();
  }

  get stats(): PioStats {
    const unclaimedPorts = [...this.unclaimed.values()]
      .map((p) => ({ ...p }))
      .sort((a, b) => b.reads + b.writes - (a.reads + a.writes) || a.port - b.port);
    return { unclaimedReads: this.unclaimedReads, unclaimedWrites: this.unclaimedWrites, unclaimedPorts };
  }

  private find(port: number): Mapping | undefined {
    return this.mappings.find((m) => port >= m.base && port < m.base + m.length);
  }

  private count(port: number): UnclaimedPort {
    let entry = this.unclaimed.get(port);
    if (!entry) {
      entry = { port, reads: 0, writes: 0 };
      this.unclaimed.set(port, entry);
    }
    return entry;
  }
}

function getValue(dv: DataView, at: number, size: number): number {
  switch (size) {
    case 1:
      return dv.getUint8(at);
    case 2:
      return dv.getUint16(at, true);
    case 4:
      return dv.getUint32(at, true);
    default:
      throw new RangeError(`port access size must be 1, 2 or 4, got ${size}`);
  }
}

function setValue(dv: DataView, at: number, size: number, value: number): void {
  switch (size) {
    case 1:
      return dv.setUint8(at, value & 0xff);
    case 2:
      return dv.setUint16(at, value & 0xffff, true);
    case 4:
      return dv.setUint32(at, value >>> 0, true);
    default:
      throw new RangeError(`port access size must be 1, 2 or 4, got ${size}`);
  }
}
