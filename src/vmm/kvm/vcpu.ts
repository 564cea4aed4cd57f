/**
 * `Vcpu`: a KVM vCPU file descriptor (rust-vmm's `VcpuFd`). `run()` returns a `VcpuExit`.
 * KVM serializes the ioctls of a vCPU: while one thread is in KVM_RUN, any other ioctl on the same
 * vCPU blocks until it returns. So the state setters are called only while the vCPU is parked.
 */
import {
  KVM_DEBUGREGS,
  KVM_FPU,
  KVM_IOCTL,
  KVM_LAPIC_STATE,
  KVM_MP_STATE_STRUCT,
  KVM_REGS,
  KVM_RUN,
  KVM_SREGS,
  KVM_VCPU_EVENTS,
  KVM_VCPUEVENT_VALID_NMI_PENDING,
  type KvmCpuidEntry2,
  type KvmFpu,
  type KvmRegs,
} from './abi.js';
import { check, libc, LINUX, type NativePointer } from './bindings.js';
import { decodeSregs, encodeCpuid2, encodeMsrs, encodeSignalMask, encodeSregs, encodeXcrs, type KvmSregs, type MsrEntry, type XcrEntry } from './codecs.js';
import { KvmError } from './errors.js';
import { decodeExit, type VcpuExit } from './exits.js';
import { ioctlError, ioctlStruct } from './ioctl.js';

interface RunMapping {
  readonly ptr: NativePointer;
  readonly bytes: Uint8Array;
}

const IMMEDIATE_EXIT = KVM_RUN.fields.find((f) => f.name === 'immediate_exit')!.offset;

/** How many exits completing a pending operation may take (string I/O completes in chunks). */
const MAX_COMPLETION_ROUNDS = 64;

export class Vcpu {
  private mapping: RunMapping | undefined;
  private closed = false;

  constructor(
    readonly fd: number,
    readonly id: number,
    readonly mmapSize: number,
    /** false for a handle on another thread's vCPU: close() then unmaps kvm_run but keeps the fd. */
    private readonly ownsFd: boolean,
  ) {}

  /** A second handle on an existing vCPU fd (the vCPU thread's). */
  static borrow(fd: number, id: number, mmapSize: number): Vcpu {
    return new Vcpu(fd, id, mmapSize, false);
  }

  /** The kvm_run page, mapped on first use. */
  runPage(): Uint8Array {
    if (this.closed) throw new Error(`vCPU ${this.id} is closed`);
    if (!this.mapping) {
      const c = libc();
      const ptr = c.mmap(this.mmapSize, LINUX.PROT_READ | LINUX.PROT_WRITE, LINUX.MAP_SHARED, this.fd, 0);
      if (!ptr) {
        const errno = c.errno();
        throw new KvmError('IoctlFailed', `mmap of vCPU ${this.id}'s kvm_run failed: ${c.strerror(errno)}`, errno);
      }
      this.mapping = { ptr, bytes: new Uint8Array(c.view(ptr, this.mmapSize)) };
    }
    return this.mapping.bytes;
  }

  /** KVM_RUN until the next exit. EINTR (a kick) and EAGAIN come back as `interrupted`. */
  run(): VcpuExit {
    const page = this.runPage();
    const c = libc();
    if (c.ioctlValue(this.fd, KVM_IOCTL.KVM_RUN, 0) < 0) {
      const errno = c.errno();
      if (errno === LINUX.EINTR) return { kind: 'interrupted', cause: 'EINTR' };
      if (errno === LINUX.EAGAIN) return { kind: 'interrupted', cause: 'EAGAIN' };
      throw ioctlError('KVM_RUN', errno);
    }
    return decodeExit(page);
  }

  /**
   * Finish an I/O or MMIO exit without running the guest further: KVM completes the instruction
   * on the next KVM_RUN, before it looks at immediate_exit (Documentation/virt/kvm/api.rst). Needed
   * before the vCPU's state is read or replaced, or the stale completion lands in the new state.
   */
  completePendingIo(): void {
    const page = this.runPage();
    page[IMMEDIATE_EXIT] = 1;
    try {
      for (let round = 0; round < MAX_COMPLETION_ROUNDS; round++) {
        const exit = this.run();
        if (exit.kind === 'io-in' || exit.kind === 'mmio-read') exit.data.fill(0xff);
        else if (exit.kind !== 'io-out' && exit.kind !== 'mmio-write') return;
      }
    } finally {
      page[IMMEDIATE_EXIT] = 0;
    }
  }

  /**
   * kvm_run.immediate_exit: while set, KVM_RUN returns EINTR at once. The main thread sets it
   * (through its own mapping) with each kick; the vCPU thread clears it once it has seen the kick.
   */
  setImmediateExit(on: boolean): void {
    this.runPage()[IMMEDIATE_EXIT] = on ? 1 : 0;
  }

  getRegs(): KvmRegs {
    const buffer = new Uint8Array(KVM_REGS.size);
    ioctlStruct(this.fd, 'KVM_GET_REGS', buffer);
    return KVM_REGS.read(buffer);
  }

  setRegs(regs: KvmRegs): void {
    ioctlStruct(this.fd, 'KVM_SET_REGS', KVM_REGS.encode(regs));
  }

  getSregs(): KvmSregs {
    const buffer = new Uint8Array(KVM_SREGS.size);
    ioctlStruct(this.fd, 'KVM_GET_SREGS', buffer);
    return decodeSregs(buffer);
  }

  setSregs(sregs: KvmSregs): void {
    ioctlStruct(this.fd, 'KVM_SET_SREGS', encodeSregs(sregs));
  }

  /** KVM_SET_FPU. KVM takes the x87 and XMM registers from it but not MXCSR (see setXsave). */
  setFpu(fpu: KvmFpu): void {
    ioctlStruct(this.fd, 'KVM_SET_FPU', KVM_FPU.encode(fpu));
  }

  /**
   * KVM_SET_XSAVE with a standard-format XSAVE image of KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes
   * (KVM reads that many): x87, SSE and MXCSR from the image, every component its XSTATE_BV leaves
   * out back to its initial state.
   */
  setXsave(image: Uint8Array): void {
    ioctlStruct(this.fd, 'KVM_SET_XSAVE', image.slice());
  }

  /** KVM_SET_MSRS answers how many entries it set: fewer than all names the first it refused. */
  setMsrs(entries: readonly MsrEntry[]): void {
    const done = ioctlStruct(this.fd, 'KVM_SET_MSRS', encodeMsrs(entries));
    if (done < entries.length) {
      const bad = entries[done]!;
      throw new KvmError('MsrRejected', `KVM refused MSR 0x${bad.index.toString(16)} = 0x${bad.data.toString(16)} on vCPU ${this.id}`);
    }
  }

  setCpuid(entries: readonly KvmCpuidEntry2[]): void {
    ioctlStruct(this.fd, 'KVM_SET_CPUID2', encodeCpuid2(entries));
  }

  setXcrs(entries: readonly XcrEntry[]): void {
    ioctlStruct(this.fd, 'KVM_SET_XCRS', encodeXcrs(entries));
  }

  getMpState(): number {
    const buffer = new Uint8Array(KVM_MP_STATE_STRUCT.size);
    ioctlStruct(this.fd, 'KVM_GET_MP_STATE', buffer);
    return KVM_MP_STATE_STRUCT.read(buffer).mp_state;
  }

  setMpState(state: number): void {
    ioctlStruct(this.fd, 'KVM_SET_MP_STATE', KVM_MP_STATE_STRUCT.encode({ mp_state: state }));
  }

  getLapic(): Uint8Array {
    const buffer = new Uint8Array(KVM_LAPIC_STATE.size);
    ioctlStruct(this.fd, 'KVM_GET_LAPIC', buffer);
    return buffer;
  }

  setLapic(state: Uint8Array): void {
    ioctlStruct(this.fd, 'KVM_SET_LAPIC', state.slice());
  }

  setDebugRegs(dr6: bigint, dr7: bigint): void {
    ioctlStruct(this.fd, 'KVM_SET_DEBUGREGS', KVM_DEBUGREGS.encode({ db: new Uint8Array(0), dr6, dr7, flags: 0n, reserved: new Uint8Array(0) }));
  }

  /** Drop pending and injected exceptions, interrupts and NMIs (a reset forgets them). */
  clearEvents(): void {
    const empty = new Uint8Array(0);
    const events = { exception: empty, interrupt: empty, nmi: empty, sipi_vector: 0, flags: KVM_VCPUEVENT_VALID_NMI_PENDING, smi: empty };
    ioctlStruct(this.fd, 'KVM_SET_VCPU_EVENTS', KVM_VCPU_EVENTS.encode(events));
  }

  /** The signal mask in force while this vCPU is inside KVM_RUN (kernel sigset, 8 bytes). */
  setSignalMask(kernelSigset: Uint8Array): void {
    ioctlStruct(this.fd, 'KVM_SET_SIGNAL_MASK', encodeSignalMask(kernelSigset));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const c = libc();
    if (this.mapping) check(`munmap(kvm_run ${this.id})`, c.munmap(this.mapping.ptr, this.mmapSize));
    this.mapping = undefined;
    if (this.ownsFd) check(`close(vcpu ${this.id})`, c.close(this.fd));
  }
}
