/**
 * The KVM side of the machine, assembled in the order KVM requires: VM, KVM's private pages,
 * in-kernel irqchip and PIT (before any vCPU), guest memory, then the vCPUs with their CPUID.
 * Keeps the power-on state of the in-kernel devices and local APICs, so that a reset restores it.
 */
import { KVM_IDENTITY_MAP_ADDR, KVM_TSS_ADDR, q35Layout } from '../arch/x86/q35-layout.js';
import type { BootCpuState } from '../arch/x86/boot-state.js';
import { apResetState, setupCpu, XSAVE_IMAGE_SIZE, type CpuSetupOptions } from './cpu-setup.js';
import { cpuidVersion, hasVmx, kvmFeatures, physicalAddressBits, vcpuCpuid } from './cpuid.js';
import {
  KVM_CAP,
  KVM_IRQCHIP_IOAPIC,
  KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE,
  KVM_PIT_SPEAKER_DUMMY,
  type KvmRegs,
} from './kvm/abi.js';
import type { KvmSregs } from './kvm/codecs.js';
import { KvmError } from './kvm/errors.js';
import { Kvm } from './kvm/system.js';
import type { Vcpu } from './kvm/vcpu.js';
import type { Vm } from './kvm/vm.js';
import { GuestMemory } from './memory.js';

/** A hard upper bound: the loader's MADT and CPUID leaf 1 carry 8-bit APIC IDs. */
export const MAX_VCPUS = 255;

interface PowerOnState {
  readonly irqchips: readonly Uint8Array[];
  readonly pit: Uint8Array;
  readonly lapics: readonly Uint8Array[];
}

export class KvmMachine {
  private closed = false;

  private constructor(
    private readonly kvm: Kvm,
    readonly vm: Vm,
    readonly memory: GuestMemory,
    readonly vcpus: readonly Vcpu[],
    /** CPUID.1:EAX, which a reset leaves in EDX. */
    readonly cpuidVersion: number | undefined,
    private readonly powerOn: PowerOnState,
    /** setupCpu's options but the LAPIC: what this KVM offers and the guest's CPUID says. */
    private readonly cpuOptions: Omit<CpuSetupOptions, 'resetLapic'>,
  ) {}

  static create(ramSize: bigint, vcpuCount: number): KvmMachine {
    const layout = q35Layout(ramSize);
    const kvm = Kvm.open();
    const cleanup: (() => void)[] = [() => kvm.close()];
    try {
      kvm.requireExtension(KVM_CAP.IRQCHIP, 'KVM_CAP_IRQCHIP');
      kvm.requireExtension(KVM_CAP.USER_MEMORY, 'KVM_CAP_USER_MEMORY');
      kvm.requireExtension(KVM_CAP.SET_TSS_ADDR, 'KVM_CAP_SET_TSS_ADDR');
      kvm.requireExtension(KVM_CAP.PIT2, 'KVM_CAP_PIT2');
      kvm.requireExtension(KVM_CAP.EXT_CPUID, 'KVM_CAP_EXT_CPUID');
      kvm.requireExtension(KVM_CAP.MP_STATE, 'KVM_CAP_MP_STATE');
      kvm.requireExtension(KVM_CAP.VCPU_EVENTS, 'KVM_CAP_VCPU_EVENTS');
      kvm.requireExtension(KVM_CAP.DEBUGREGS, 'KVM_CAP_DEBUGREGS');
      kvm.requireExtension(KVM_CAP.IMMEDIATE_EXIT, 'KVM_CAP_IMMEDIATE_EXIT');
      const maxVcpus = Math.min(MAX_VCPUS, kvm.checkExtension(KVM_CAP.MAX_VCPUS) || kvm.checkExtension(KVM_CAP.NR_VCPUS) || 4);
      if (!Number.isInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > maxVcpus) {
        throw new KvmError('InvalidVcpuCount', `${vcpuCount} vCPUs requested; this host allows 1 to ${maxVcpus}`);
      }

      const vm = kvm.createVm();
      cleanup.push(() => vm.close());
      if (kvm.checkExtension(KVM_CAP.SET_IDENTITY_MAP_ADDR)) vm.setIdentityMapAddr(KVM_IDENTITY_MAP_ADDR);
      vm.setTssAddr(KVM_TSS_ADDR);
      vm.createIrqchip();
      vm.createPit2(KVM_PIT_SPEAKER_DUMMY);
      const irqchips = [KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC].map((id) => vm.getIrqchip(id));
      const pit = vm.getPit2();

      const supported = kvm.supportedCpuid();
      const physBits = physicalAddressBits(supported);
      const ramEnd = layout.ram.reduce((end, r) => (r.gpa + r.size > end ? r.gpa + r.size : end), 0n);
      if (ramEnd > 1n << BigInt(physBits)) {
        throw new KvmError(
          'MemoryTooLarge',
          `${ramSize >> 20n} MiB of guest RAM reaches guest physical address 0x${ramEnd.toString(16)}, beyond the ${physBits}-bit physical-address width this host's KVM offers (at most ${((1n << BigInt(physBits)) >> 30n).toString()} GiB of address space)`,
        );
      }
      const memory = new GuestMemory(layout, vcpuCount, vm, kvm.checkExtension(KVM_CAP.NR_MEMSLOTS) || 32, physBits);
      cleanup.push(() => memory.close());

      const tscDeadline = kvm.checkExtension(KVM_CAP.TSC_DEADLINE_TIMER) > 0;
      const vcpus: Vcpu[] = [];
      const lapics: Uint8Array[] = [];
      for (let i = 0; i < vcpuCount; i++) {
        const vcpu = vm.createVcpu(i);
        vcpus.push(vcpu);
        cleanup.push(() => vcpu.close());
        vcpu.setCpuid(vcpuCpuid(supported, { vcpuIndex: i, vcpuCount, tscDeadline }));
        // After KVM_SET_CPUID2, which updates the APIC version register.
        lapics.push(vcpu.getLapic());
      }
      const cpuOptions = {
        xcrs: kvm.checkExtension(KVM_CAP.XCRS) > 0,
        // KVM_SET_XSAVE reads KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes, asked of the VM.
        ...(kvm.checkExtension(KVM_CAP.XSAVE) > 0 ? { xsaveSize: Math.max(XSAVE_IMAGE_SIZE, vm.checkExtension(KVM_CAP.XSAVE2)) } : {}),
        kvmFeatures: kvmFeatures(supported),
        vmx: hasVmx(supported),
      };
      return new KvmMachine(kvm, vm, memory, vcpus, cpuidVersion(supported), { irqchips, pit, lapics }, cpuOptions);
    } catch (e) {
      for (const undo of cleanup.reverse()) {
        try {
          undo();
        } catch {
          // Keep the original error.
        }
      }
      throw e;
    }
  }

  /**
   * Power-on state for a new boot (every vCPU parked): in-kernel PIC, IOAPIC and PIT as created, the
   * BSP in `bootCpu`, the APs reset and waiting for INIT/SIPI.
   */
  applyBootState(bootCpu: BootCpuState): void {
    for (const chip of this.powerOn.irqchips) this.vm.setIrqchip(chip);
    this.vm.setPit2(this.powerOn.pit);
    const ap = apResetState(this.cpuidVersion);
    this.vcpus.forEach((vcpu, i) => {
      setupCpu(vcpu, i === 0 ? bootCpu : ap, { ...this.cpuOptions, resetLapic: this.powerOn.lapics[i]! });
    });
  }

  requestImmediateExit(index: number): void {
    this.vcpus[index]?.setImmediateExit(true);
  }

  get vmFd(): number {
    return this.vm.fd;
  }

  irqLine(irq: number, level: boolean): void {
    this.vm.irqLine(irq, level);
  }

  /** Registers of a parked vCPU, for error reports. */
  registers(index: number): { regs: KvmRegs; sregs: KvmSregs } {
    const vcpu = this.vcpus[index]!;
    return { regs: vcpu.getRegs(), sregs: vcpu.getSregs() };
  }

  /** Close everything (every vCPU thread must be gone). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const vcpu of this.vcpus) vcpu.close();
    this.vm.close();
    this.memory.close();
    this.kvm.close();
  }
}
