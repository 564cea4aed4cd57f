/**
 * Guest RAM for KVM: one anonymous private mapping (MAP_NORESERVE: pages cost memory only once
 * touched) per RAM range, each registered as a KVM memory slot. Implements the loader's
 * GuestMachine over a RamMap, like SparseMachine does for dry runs. Mapping is lazy all the way:
 * the JavaScript views of a region (1 GiB each, a few milliseconds apiece to create) are made on
 * the first access to that GiB, so that `-m 1T` starts as fast as `-m 256M`: nothing but the pages
 * the file writes is ever touched.
 *
 * Resets. A guest-requested reset is warm, as in QEMU and on hardware: RAM keeps its contents and
 * the RAM the loader created (QEMU's igvm.N regions) stays; reloading the file rewrites what the
 * file covers and the loader finds its regions already there (guests/tests/long64.S relies on RAM
 * outside the file surviving). `reset()` is the cold one, back to power-on: all RAM zero
 * (MADV_DONTNEED: the kernel drops the pages, later reads see zero pages), created regions unmapped
 * and their slots deleted, so that a reload cannot depend on anything a previous boot did.
 */
import type { BootCpuState } from '../arch/x86/boot-state.js';
import type { E820Entry, MachineLayout } from '../arch/x86/q35-layout.js';
import { RamMap, type GuestMachine, type ProbeResult } from '../loader/machine.js';
import type { KvmUserspaceMemoryRegion } from './kvm/abi.js';
import { libc, LINUX, VIEW_LIMIT, type NativePointer } from './kvm/bindings.js';

/** Where memory slots go (a `Vm`, or a recorder in tests). */
export interface SlotTable {
  setUserMemoryRegion(region: KvmUserspaceMemoryRegion): void;
}

const PAGE = 4096n;
/** Zeroing at least this many whole pages drops them (madvise) instead of writing zeros. */
const DROP_THRESHOLD = 16n * PAGE;

export interface RegionInfo {
  readonly name: string;
  readonly gpa: bigint;
  readonly size: bigint;
  readonly slot: number;
  /** Created by the loader (addRam) rather than part of the machine layout. */
  readonly created: boolean;
}

interface Region extends RegionInfo {
  readonly ptr: NativePointer;
  readonly hostAddress: bigint;
  /** Views of at most VIEW_LIMIT bytes each, covering the region in order; made on first use. */
  readonly chunks: (Uint8Array | undefined)[];
}

/** Guest RAM beyond what the host's CPU (through KVM) can address. */
export class PhysicalAddressError extends RangeError {
  override readonly name = 'PhysicalAddressError';
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export class GuestMemory implements GuestMachine {
  private ram: RamMap;
  private regions: Region[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private closed = false;
  private bootCpu: BootCpuState | undefined;

  constructor(
    readonly layout: MachineLayout,
    readonly vcpuCount: number,
    private readonly slots: SlotTable,
    /** KVM_CAP_NR_MEMSLOTS. */
    private readonly maxSlots = 32,
    /** The guest's MAXPHYADDR: RAM must end below 2^physBits. */
    private readonly physBits = 52,
  ) {
    this.ram = new RamMap(layout);
    try {
      layout.ram.forEach((r, i) => this.map(r.gpa, r.size, i === 0 ? 'ram-below-4g' : 'ram-above-4g', false));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  get e820(): readonly E820Entry[] {
    return this.layout.e820;
  }

  get regionList(): readonly RegionInfo[] {
    return this.regions.map(({ name, gpa, size, slot, created }) => ({ name, gpa, size, slot, created }));
  }

  probe(gpa: bigint, size: bigint): ProbeResult {
    return this.ram.probe(gpa, size);
  }

  addRam(gpa: bigint, size: bigint, name: string): void {
    if (gpa % PAGE !== 0n || size % PAGE !== 0n || size === 0n) {
      throw new RangeError(`RAM region ${name} at ${hex(gpa)} (+${hex(size)}) is not whole 4 KiB pages, which KVM memory slots need`);
    }
    const probe = this.ram.probe(gpa, size);
    if (probe.kind !== 'unmapped') throw new RangeError(`RAM region ${name} at ${hex(gpa)} (+${hex(size)}) overlaps ${probe.kind === 'device' ? probe.name : 'RAM'}`);
    this.map(gpa, size, name, true);
    this.ram.add(gpa, size);
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    let done = 0;
    this.spans(gpa, BigInt(bytes.length), 'write', (view, at, n) => {
      view.set(bytes.subarray(done, done + n), at);
      done += n;
    });
  }

  zero(gpa: bigint, size: bigint): void {
    const first = ((gpa + PAGE - 1n) / PAGE) * PAGE;
    const end = ((gpa + size) / PAGE) * PAGE;
    this.checkRam(gpa, size, 'zero');
    if (end - first < DROP_THRESHOLD) {
      this.spans(gpa, size, 'zero', (view, at, n) => view.fill(0, at, at + n));
      return;
    }
    this.spans(gpa, first - gpa, 'zero', (view, at, n) => view.fill(0, at, at + n));
    this.drop(first, end - first);
    this.spans(end, gpa + size - end, 'zero', (view, at, n) => view.fill(0, at, at + n));
  }

  read(gpa: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    this.spans(gpa, BigInt(length), 'read', (view, at, n) => {
      out.set(view.subarray(at, at + n), done);
      done += n;
    });
    return out;
  }

  setBootCpuState(state: BootCpuState): void {
    this.bootCpu = state;
  }

  /** The boot CPU state the last load set, if any. */
  get bootCpuState(): BootCpuState | undefined {
    return this.bootCpu;
  }

  /** Back to power-on: layout RAM all zeros, created regions gone, no boot CPU state. */
  reset(): void {
    this.assertOpen();
    for (const r of this.regions.filter((r) => r.created)) this.unmap(r);
    this.regions = this.regions.filter((r) => !r.created);
    for (const r of this.regions) this.drop(r.gpa, r.size);
    this.ram = new RamMap(this.layout);
    this.bootCpu = undefined;
  }

  /** Unmap everything. KVM slots are left to the VM's close (they are deleted with it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const c = libc();
    for (const r of this.regions) c.munmap(r.ptr, Number(r.size));
    this.regions = [];
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('guest memory is closed');
  }

  private map(gpa: bigint, size: bigint, name: string, created: boolean): void {
    this.assertOpen();
    const limit = 1n << BigInt(this.physBits);
    if (gpa + size > limit) {
      throw new PhysicalAddressError(
        `RAM region ${name} at ${hex(gpa)} (+${hex(size)}) ends beyond ${hex(limit)}, the ${this.physBits}-bit guest physical-address width of this host's KVM`,
      );
    }
    const slot = this.freeSlots.shift() ?? this.nextSlot++;
    if (slot >= this.maxSlots) throw new RangeError(`RAM region ${name} needs memory slot ${slot}, but KVM offers ${this.maxSlots}`);
    const c = libc();
    const length = Number(size);
    const ptr = c.mmap(length, LINUX.PROT_READ | LINUX.PROT_WRITE, LINUX.MAP_PRIVATE | LINUX.MAP_ANONYMOUS | LINUX.MAP_NORESERVE, -1, 0);
    if (!ptr) {
      this.freeSlots.push(slot);
      throw new RangeError(`cannot reserve ${hex(size)} bytes of host memory for ${name}: ${c.strerror(c.errno())}`);
    }
    const chunks = new Array<Uint8Array | undefined>(Math.ceil(length / VIEW_LIMIT)).fill(undefined);
    const hostAddress = c.address(ptr);
    try {
      this.slots.setUserMemoryRegion({ slot, flags: 0, guest_phys_addr: gpa, memory_size: size, userspace_addr: hostAddress });
    } catch (e) {
      c.munmap(ptr, length);
      this.freeSlots.push(slot);
      throw e;
    }
    this.regions.push({ name, gpa, size, slot, created, ptr, hostAddress, chunks });
    this.regions.sort((a, b) => (a.gpa < b.gpa ? -1 : 1));
  }

  private chunkView(r: Region, chunk: number): Uint8Array {
    const c = libc();
    const offset = chunk * VIEW_LIMIT;
    return new Uint8Array(c.view(c.offset(r.ptr, offset), Math.min(VIEW_LIMIT, Number(r.size) - offset)));
  }

  private unmap(r: Region): void {
    this.slots.setUserMemoryRegion({ slot: r.slot, flags: 0, guest_phys_addr: r.gpa, memory_size: 0n, userspace_addr: r.hostAddress });
    libc().munmap(r.ptr, Number(r.size));
    this.freeSlots.push(r.slot);
  }

  /** MADV_DONTNEED over whole pages [gpa, gpa + size). */
  private drop(gpa: bigint, size: bigint): void {
    const c = libc();
    for (let at = gpa; at < gpa + size; ) {
      const r = this.regionAt(at);
      if (!r) throw new RangeError(`zero at ${hex(at)} is outside guest RAM`);
      const n = (r.gpa + r.size < gpa + size ? r.gpa + r.size : gpa + size) - at;
      if (c.madvise(c.offset(r.ptr, Number(at - r.gpa)), Number(n), LINUX.MADV_DONTNEED) !== 0) {
        throw new Error(`madvise(MADV_DONTNEED) on ${r.name} failed: ${c.strerror(c.errno())}`);
      }
      at += n;
    }
  }

  private regionAt(gpa: bigint): Region | undefined {
    return this.regions.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size);
  }

  /** Throw unless all of [gpa, gpa + size) is guest RAM (checked first, so a failed access changes nothing). */
  private checkRam(gpa: bigint, size: bigint, op: string): void {
    this.assertOpen();
    if (gpa < 0n || size < 0n) throw new RangeError(`guest ${op} at ${hex(gpa)} (+${hex(size)}) is invalid`);
    for (let at = gpa; at < gpa + size; ) {
      const r = this.regionAt(at);
      if (!r) throw new RangeError(`guest ${op} at ${hex(gpa)} (+${hex(size)}) reaches ${hex(at)}, which is not guest RAM`);
      at = r.gpa + r.size;
    }
  }

  /** Visit [gpa, gpa + size) as (view, offset in view, length) pieces; all of it must be RAM. */
  private spans(gpa: bigint, size: bigint, op: string, visit: (view: Uint8Array, at: number, n: number) => void): void {
    this.checkRam(gpa, size, op);
    for (let at = gpa; at < gpa + size; ) {
      const r = this.regionAt(at)!;
      const offset = at - r.gpa;
      const chunk = Number(offset / BigInt(VIEW_LIMIT));
      const within = Number(offset % BigInt(VIEW_LIMIT));
      const view = (r.chunks[chunk] ??= this.chunkView(r, chunk));
      const left = gpa + size - at;
      const room = BigInt(view.length - within);
      const n = Number(left < room ? left : room);
      visit(view, within, n);
      at += BigInt(n);
    }
  }
}
