/**
 * The small machine interface the loader writes into (after rust-vmm's vm-memory: the loader never
 * sees mmap or KVM), and `SparseMachine`, an in-memory machine over a q35 layout that stores only
 * the pages written: it backs `igvm load --dry-run` and the loader tests, in Node or a browser.
 */
import type { BootCpuState } from '../arch/x86/boot-state.js';
import { q35Layout, type E820Entry, type MachineLayout } from '../arch/x86/q35-layout.js';

export type ProbeResult =
  | { readonly kind: 'ram' }
  | { readonly kind: 'unmapped' }
  | { readonly kind: 'device'; readonly name: string }
  | { readonly kind: 'partial' };

export interface GuestMachine {
  readonly vcpuCount: number;
  /** The e820 table the memory-map parameter is built from. */
  readonly e820: readonly E820Entry[];
  /** What lies at [gpa, gpa + size): all RAM, nothing at all, a device, or RAM only in part. */
  probe(gpa: bigint, size: bigint): ProbeResult;
  /** Create RAM where nothing is mapped (QEMU's `igvm.N` regions). */
  addRam(gpa: bigint, size: bigint, name: string): void;
  write(gpa: bigint, bytes: Uint8Array): void;
  zero(gpa: bigint, size: bigint): void;
  setBootCpuState(state: BootCpuState): void;
}

interface Range {
  readonly gpa: bigint;
  readonly size: bigint;
}

function overlaps(a: Range, b: Range): boolean {
  return a.gpa < b.gpa + b.size && b.gpa < a.gpa + a.size;
}

function contains(outer: Range, inner: Range): boolean {
  return inner.gpa >= outer.gpa && inner.gpa + inner.size <= outer.gpa + outer.size;
}

/** RAM bookkeeping shared by every GuestMachine implementation: layout RAM plus created regions. */
export class RamMap {
  private readonly ranges: Range[];

  constructor(readonly layout: MachineLayout) {
    this.ranges = layout.ram.map((r) => ({ gpa: r.gpa, size: r.size }));
  }

  get all(): readonly Range[] {
    return this.ranges;
  }

  probe(gpa: bigint, size: bigint): ProbeResult {
    const want = { gpa, size };
    const device = this.layout.devices.find((d) => overlaps(d, want));
    if (device) return { kind: 'device', name: device.name };
    // Created regions may abut layout RAM: merge adjacent coverage before deciding.
    let covered = 0n;
    for (const r of this.ranges) {
      if (!overlaps(r, want)) continue;
      if (contains(r, want)) return { kind: 'ram' };
      const start = r.gpa > gpa ? r.gpa : gpa;
      const end = r.gpa + r.size < gpa + size ? r.gpa + r.size : gpa + size;
      covered += end - start;
    }
    if (covered === 0n) return { kind: 'unmapped' };
    return covered === size ? { kind: 'ram' } : { kind: 'partial' };
  }

  add(gpa: bigint, size: bigint): void {
    this.ranges.push({ gpa, size });
    this.ranges.sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
  }
}

const PAGE = 4096n;

/** A machine whose memory exists only where it was written (absent pages read as zeros). */
export class SparseMachine implements GuestMachine {
  readonly ram: RamMap;
  readonly pages = new Map<bigint, Uint8Array>();
  readonly createdRam: { gpa: bigint; size: bigint; name: string }[] = [];
  bootCpu: BootCpuState | undefined;

  constructor(
    ramSize: bigint,
    readonly vcpuCount = 1,
  ) {
    this.ram = new RamMap(q35Layout(ramSize));
  }

  get e820(): readonly E820Entry[] {
    return this.ram.layout.e820;
  }

  probe(gpa: bigint, size: bigint): ProbeResult {
    return this.ram.probe(gpa, size);
  }

  addRam(gpa: bigint, size: bigint, name: string): void {
    this.ram.add(gpa, size);
    this.createdRam.push({ gpa, size, name });
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const at = gpa + BigInt(done);
      const pageNo = at / PAGE;
      const within = Number(at % PAGE);
      const n = Math.min(bytes.length - done, 4096 - within);
      let page = this.pages.get(pageNo);
      if (!page) {
        page = new Uint8Array(4096);
        this.pages.set(pageNo, page);
      }
      page.set(bytes.subarray(done, done + n), within);
      done += n;
    }
  }

  zero(gpa: bigint, size: bigint): void {
    for (let at = gpa; at < gpa + size; ) {
      const pageNo = at / PAGE;
      const within = at % PAGE;
      const n = size - (at - gpa) < PAGE - within ? size - (at - gpa) : PAGE - within;
      if (within === 0n && n === PAGE) this.pages.delete(pageNo);
      else this.pages.get(pageNo)?.fill(0, Number(within), Number(within + n));
      at += n;
    }
  }

  read(gpa: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const at = gpa + BigInt(done);
      const within = Number(at % PAGE);
      const n = Math.min(length - done, 4096 - within);
      const page = this.pages.get(at / PAGE);
      if (page) out.set(page.subarray(within, within + n), done);
      done += n;
    }
    return out;
  }

  setBootCpuState(state: BootCpuState): void {
    this.bootCpu = state;
  }
}
