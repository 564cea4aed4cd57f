/** `Vm`: a KVM VM file descriptor (rust-vmm's `VmFd`): memory slots, KVM's private pages, irqchip, PIT, vCPUs. */
import {
  KVM_IOCTL,
  KVM_IRQCHIP,
  KVM_PIT_CONFIG,
  KVM_PIT_STATE2,
  KVM_USERSPACE_MEMORY_REGION,
  type KvmUserspaceMemoryRegion,
} from './abi.js';
import { check, libc } from './bindings.js';
import { ioctlStruct, ioctlValue } from './ioctl.js';
import { irqLine } from './irq-line.js';
import { Vcpu } from './vcpu.js';

export class Vm {
  private closed = false;

  constructor(
    readonly fd: number,
    /** KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's kvm_run mapping. */
    readonly vcpuMmapSize: number,
  ) {}

  /** KVM_CHECK_EXTENSION on the VM (answers for this VM rather than for KVM in general). */
  checkExtension(cap: number): number {
    return Math.max(0, libc().ioctlValue(this.fd, KVM_IOCTL.KVM_CHECK_EXTENSION, cap));
  }

  /** Add, move or (memory_size 0) delete a memory slot. */
  setUserMemoryRegion(region: KvmUserspaceMemoryRegion): void {
    ioctlStruct(this.fd, 'KVM_SET_USER_MEMORY_REGION', KVM_USERSPACE_MEMORY_REGION.encode(region));
  }

  /** Three pages for the real-mode TSS KVM needs on Intel without unrestricted guest. */
  setTssAddr(gpa: bigint): void {
    ioctlValue(this.fd, 'KVM_SET_TSS_ADDR', gpa);
  }

  /** One page for the identity-mapped page table KVM uses on Intel; before any vCPU exists. */
  setIdentityMapAddr(gpa: bigint): void {
    const arg = new Uint8Array(8);
    new DataView(arg.buffer).setBigUint64(0, gpa, true);
    ioctlStruct(this.fd, 'KVM_SET_IDENTITY_MAP_ADDR', arg);
  }

  /** In-kernel PIC pair, IOAPIC and (per vCPU) local APIC. */
  createIrqchip(): void {
    ioctlValue(this.fd, 'KVM_CREATE_IRQCHIP');
  }

  createPit2(flags: number): void {
    ioctlStruct(this.fd, 'KVM_CREATE_PIT2', KVM_PIT_CONFIG.encode({ flags, pad: new Uint8Array(0) }));
  }

  /** Drive an interrupt line of the in-kernel PIC/IOAPIC (ISA IRQs 0-15 reach both). */
  irqLine(irq: number, level: boolean): void {
    irqLine(this.fd, irq, level);
  }

  /** Snapshot of one in-kernel interrupt controller (KVM_IRQCHIP_PIC_MASTER/SLAVE/IOAPIC). */
  getIrqchip(chipId: number): Uint8Array {
    const buffer = KVM_IRQCHIP.encode({ chip_id: chipId, pad: 0, chip: new Uint8Array(0) });
    ioctlStruct(this.fd, 'KVM_GET_IRQCHIP', buffer);
    return buffer;
  }

  setIrqchip(snapshot: Uint8Array): void {
    ioctlStruct(this.fd, 'KVM_SET_IRQCHIP', snapshot.slice());
  }

  getPit2(): Uint8Array {
    const buffer = new Uint8Array(KVM_PIT_STATE2.size);
    ioctlStruct(this.fd, 'KVM_GET_PIT2', buffer);
    return buffer;
  }

  setPit2(snapshot: Uint8Array): void {
    ioctlStruct(this.fd, 'KVM_SET_PIT2', snapshot.slice());
  }

  createVcpu(id: number): Vcpu {
    return new Vcpu(ioctlValue(this.fd, 'KVM_CREATE_VCPU', id), id, this.vcpuMmapSize, true);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    check('close(vm)', libc().close(this.fd));
  }
}
