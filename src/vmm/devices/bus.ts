/**
 * The device bus, one for port I/O and MMIO as in rust-vmm's vm-device: address ranges -> devices,
 * kept sorted and found by binary search. An access goes to the device whose range holds its first
 * address (offset = address - base). Unclaimed ports read as all ones and ignore writes, like an
 * ISA bus with nothing on it; unclaimed MMIO reads as all ones too (nothing decodes the address).
 * Both are counted, so that a guest hammering a missing device shows in `stats`.
 *
 * Every vCPU thread has a bus of its own, over device state that lives in shared memory; the
 * caller holds the device lock (device-lock.ts) around each access.
 */
/** A device on the port I/O bus. `size` is 1, 2 or 4; values are unsigned. */
export interface PioDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
  /** Back to the power-on state (system reset). */
  reset?(): void;
}

/** A device on the MMIO bus: `data` is the access (1 to 8 bytes, little-endian), read into or written from. */
export interface MmioDevice {
  read(offset: number, data: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  reset?(): void;
}

interface Mapping<D> {
  readonly base: number;
  readonly length: number;
  readonly name: string;
  readonly device: D;
}

/** Ranges kept sorted by base, for a binary search per access. */
class RangeMap<D> {
  readonly list: Mapping<D>[] = [];

  constructor(
    private readonly space: string,
    private readonly limit: number,
  ) {}

  add(base: number, length: number, name: string, device: D): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length < 1 || base + length > this.limit) {
      throw new RangeError(`${name}: ${this.space} range ${hex(base)} (+${length}) is not within 0..${hex(this.limit - 1)}`);
    }
    const clash = this.list.find((m) => base < m.base + m.length && m.base < base + length);
    if (clash) throw new RangeError(`${name} at ${hex(base)} (+${length}) overlaps ${clash.name} at ${hex(clash.base)} (+${clash.length})`);
    this.list.push({ base, length, name, device });
    this.list.sort((a, b) => a.base - b.base);
  }

  find(address: number): Mapping<D> | undefined {
    const list = this.list;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = list[mid]!;
      if (address < m.base) hi = mid - 1;
      else if (address >= m.base + m.length) lo = mid + 1;
      else return m;
    }
    return undefined;
  }
}

/** Unclaimed MMIO addresses are counted up to this many distinct ones (a guest may touch any). */
const MMIO_ADDRESS_LIMIT = 4096;

export interface MmioStats {
  readonly reads: number;
  readonly writes: number;
  /** Unclaimed MMIO addresses, most accessed first (at most 16). */
  readonly addresses: readonly { readonly address: bigint; readonly count: number }[];
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

export class DeviceBus {
  private readonly ports = new RangeMap<PioDevice>('port', 0x10000);
  private readonly mmio = new RangeMap<MmioDevice>('MMIO', 2 ** 52);
  private readonly unclaimed = new Map<number, UnclaimedPort>();
  private unclaimedReads = 0;
  private unclaimedWrites = 0;
  private mmioReads = 0;
  private mmioWrites = 0;
  private readonly mmioAddresses = new Map<bigint, number>();

  register(base: number, length: number, name: string, device: PioDevice): void {
    this.ports.add(base, length, name, device);
  }

  registerMmio(base: number, length: number, name: string, device: MmioDevice): void {
    this.mmio.add(base, length, name, device);
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

  /** An MMIO read exit: fill `data` (all ones where nothing claims the address). */
  handleMmioRead(address: bigint, data: Uint8Array): void {
    const m = this.mmio.find(Number(address));
    if (m) return m.device.read(Number(address) - m.base, data);
    data.fill(0xff);
    this.mmioReads++;
    this.countMmio(address);
  }

  handleMmioWrite(address: bigint, data: Uint8Array): void {
    const m = this.mmio.find(Number(address));
    if (m) return m.device.write(Number(address) - m.base, data);
    this.mmioWrites++;
    this.countMmio(address);
  }

  reset(): void {
    for (const m of this.ports.list) m.device.reset?.();
    for (const m of this.mmio.list) m.device.reset?.();
  }

  get mmioStats(): MmioStats {
    const addresses = [...this.mmioAddresses]
      .map(([address, count]) => ({ address, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 16);
    return { reads: this.mmioReads, writes: this.mmioWrites, addresses };
  }

  private countMmio(address: bigint): void {
    const count = this.mmioAddresses.get(address);
    if (count !== undefined) this.mmioAddresses.set(address, count + 1);
    else if (this.mmioAddresses.size < MMIO_ADDRESS_LIMIT) this.mmioAddresses.set(address, 1);
  }

  get stats(): PioStats {
    const unclaimedPorts = [...this.unclaimed.values()]
      .map((p) => ({ ...p }))
      .sort((a, b) => b.reads + b.writes - (a.reads + a.writes) || a.port - b.port);
    return { unclaimedReads: this.unclaimedReads, unclaimedWrites: this.unclaimedWrites, unclaimedPorts };
  }

  private find(port: number): Mapping<PioDevice> | undefined {
    return this.ports.find(port);
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
