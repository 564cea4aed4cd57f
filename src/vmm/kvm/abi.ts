/**
 * The KVM ABI for x86-64, declared once: ioctl numbers, constants and struct layouts
 * (linux/kvm.h, asm/kvm.h). Layout and field names are the C names, so that
 * test/vmm/abi.test.ts can compile a C program printing sizeof/offsetof for every entry here and
 * compare. Union members of struct kvm_run are their own layouts named `kvm_run.<member>`, with
 * offsets relative to the union (which starts at KVM_RUN_EXIT_OFFSET).
 */
import { defineStruct, type StructValue } from '../../format/layout.js';

// ---- struct layouts ----

export const KVM_REGS = defineStruct('kvm_regs', 144, [
  { name: 'rax', offset: 0, kind: 'u64' },
  { name: 'rbx', offset: 8, kind: 'u64' },
  { name: 'rcx', offset: 16, kind: 'u64' },
  { name: 'rdx', offset: 24, kind: 'u64' },
  { name: 'rsi', offset: 32, kind: 'u64' },
  { name: 'rdi', offset: 40, kind: 'u64' },
  { name: 'rsp', offset: 48, kind: 'u64' },
  { name: 'rbp', offset: 56, kind: 'u64' },
  { name: 'r8', offset: 64, kind: 'u64' },
  { name: 'r9', offset: 72, kind: 'u64' },
  { name: 'r10', offset: 80, kind: 'u64' },
  { name: 'r11', offset: 88, kind: 'u64' },
  { name: 'r12', offset: 96, kind: 'u64' },
  { name: 'r13', offset: 104, kind: 'u64' },
  { name: 'r14', offset: 112, kind: 'u64' },
  { name: 'r15', offset: 120, kind: 'u64' },
  { name: 'rip', offset: 128, kind: 'u64' },
  { name: 'rflags', offset: 136, kind: 'u64' },
] as const);
export type KvmRegs = StructValue<typeof KVM_REGS.fields>;

export const KVM_SEGMENT = defineStruct('kvm_segment', 24, [
  { name: 'base', offset: 0, kind: 'u64' },
  { name: 'limit', offset: 8, kind: 'u32' },
  { name: 'selector', offset: 12, kind: 'u16' },
  { name: 'type', offset: 14, kind: 'u8' },
  { name: 'present', offset: 15, kind: 'u8' },
  { name: 'dpl', offset: 16, kind: 'u8' },
  { name: 'db', offset: 17, kind: 'u8' },
  { name: 's', offset: 18, kind: 'u8' },
  { name: 'l', offset: 19, kind: 'u8' },
  { name: 'g', offset: 20, kind: 'u8' },
  { name: 'avl', offset: 21, kind: 'u8' },
  { name: 'unusable', offset: 22, kind: 'u8' },
  { name: 'padding', offset: 23, kind: 'u8' },
] as const);
export type KvmSegment = StructValue<typeof KVM_SEGMENT.fields>;

export const KVM_DTABLE = defineStruct('kvm_dtable', 16, [
  { name: 'base', offset: 0, kind: 'u64' },
  { name: 'limit', offset: 8, kind: 'u16' },
  { name: 'padding', offset: 10, kind: { bytes: 6 } },
] as const);
export type KvmDtable = StructValue<typeof KVM_DTABLE.fields>;

/** kvm_sregs: segments and descriptor tables are nested kvm_segment / kvm_dtable (see codecs.ts). */
export const KVM_SREGS = defineStruct('kvm_sregs', 312, [
  { name: 'cs', offset: 0, kind: { bytes: 24 } },
  { name: 'ds', offset: 24, kind: { bytes: 24 } },
  { name: 'es', offset: 48, kind: { bytes: 24 } },
  { name: 'fs', offset: 72, kind: { bytes: 24 } },
  { name: 'gs', offset: 96, kind: { bytes: 24 } },
  { name: 'ss', offset: 120, kind: { bytes: 24 } },
  { name: 'tr', offset: 144, kind: { bytes: 24 } },
  { name: 'ldt', offset: 168, kind: { bytes: 24 } },
  { name: 'gdt', offset: 192, kind: { bytes: 16 } },
  { name: 'idt', offset: 208, kind: { bytes: 16 } },
  { name: 'cr0', offset: 224, kind: 'u64' },
  { name: 'cr2', offset: 232, kind: 'u64' },
  { name: 'cr3', offset: 240, kind: 'u64' },
  { name: 'cr4', offset: 248, kind: 'u64' },
  { name: 'cr8', offset: 256, kind: 'u64' },
  { name: 'efer', offset: 264, kind: 'u64' },
  { name: 'apic_base', offset: 272, kind: 'u64' },
  { name: 'interrupt_bitmap', offset: 280, kind: { bytes: 32 } },
] as const);

export const KVM_FPU = defineStruct('kvm_fpu', 416, [
  { name: 'fpr', offset: 0, kind: { bytes: 128 } },
  { name: 'fcw', offset: 128, kind: 'u16' },
  { name: 'fsw', offset: 130, kind: 'u16' },
  { name: 'ftwx', offset: 132, kind: 'u8' },
  { name: 'pad1', offset: 133, kind: 'u8' },
  { name: 'last_opcode', offset: 134, kind: 'u16' },
  { name: 'last_ip', offset: 136, kind: 'u64' },
  { name: 'last_dp', offset: 144, kind: 'u64' },
  { name: 'xmm', offset: 152, kind: { bytes: 256 } },
  { name: 'mxcsr', offset: 408, kind: 'u32' },
  { name: 'pad2', offset: 412, kind: 'u32' },
] as const);
export type KvmFpu = StructValue<typeof KVM_FPU.fields>;

/**
 * kvm_xsave: the XSAVE image (standard, uncompacted format). KVM_SET_XSAVE reads
 * KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes (at least 4096) from the pointer.
 */
export const KVM_XSAVE = defineStruct('kvm_xsave', 4096, [{ name: 'region', offset: 0, kind: { bytes: 4096 } }] as const);

/** Header of kvm_msrs; `entries` (kvm_msr_entry[nmsrs]) follows at FLEXIBLE_ARRAYS['kvm_msrs.entries']. */
export const KVM_MSRS = defineStruct('kvm_msrs', 8, [
  { name: 'nmsrs', offset: 0, kind: 'u32' },
  { name: 'pad', offset: 4, kind: 'u32' },
] as const);

export const KVM_MSR_ENTRY = defineStruct('kvm_msr_entry', 16, [
  { name: 'index', offset: 0, kind: 'u32' },
  { name: 'reserved', offset: 4, kind: 'u32' },
  { name: 'data', offset: 8, kind: 'u64' },
] as const);

/** Header of kvm_cpuid2; `entries` (kvm_cpuid_entry2[nent]) follows. */
export const KVM_CPUID2 = defineStruct('kvm_cpuid2', 8, [
  { name: 'nent', offset: 0, kind: 'u32' },
  { name: 'padding', offset: 4, kind: 'u32' },
] as const);

export const KVM_CPUID_ENTRY2 = defineStruct('kvm_cpuid_entry2', 40, [
  { name: 'function', offset: 0, kind: 'u32' },
  { name: 'index', offset: 4, kind: 'u32' },
  { name: 'flags', offset: 8, kind: 'u32' },
  { name: 'eax', offset: 12, kind: 'u32' },
  { name: 'ebx', offset: 16, kind: 'u32' },
  { name: 'ecx', offset: 20, kind: 'u32' },
  { name: 'edx', offset: 24, kind: 'u32' },
  { name: 'padding', offset: 28, kind: { bytes: 12 } },
] as const);
export type KvmCpuidEntry2 = StructValue<typeof KVM_CPUID_ENTRY2.fields>;

export const KVM_USERSPACE_MEMORY_REGION = defineStruct('kvm_userspace_memory_region', 32, [
  { name: 'slot', offset: 0, kind: 'u32' },
  { name: 'flags', offset: 4, kind: 'u32' },
  { name: 'guest_phys_addr', offset: 8, kind: 'u64' },
  { name: 'memory_size', offset: 16, kind: 'u64' },
  { name: 'userspace_addr', offset: 24, kind: 'u64' },
] as const);
export type KvmUserspaceMemoryRegion = StructValue<typeof KVM_USERSPACE_MEMORY_REGION.fields>;

export const KVM_PIT_CONFIG = defineStruct('kvm_pit_config', 64, [
  { name: 'flags', offset: 0, kind: 'u32' },
  { name: 'pad', offset: 4, kind: { bytes: 60 } },
] as const);

/** kvm_irq_level: `irq` shares its word with `status` in a union. */
export const KVM_IRQ_LEVEL = defineStruct('kvm_irq_level', 8, [
  { name: 'irq', offset: 0, kind: 'u32' },
  { name: 'level', offset: 4, kind: 'u32' },
] as const);

export const KVM_XCR = defineStruct('kvm_xcr', 16, [
  { name: 'xcr', offset: 0, kind: 'u32' },
  { name: 'reserved', offset: 4, kind: 'u32' },
  { name: 'value', offset: 8, kind: 'u64' },
] as const);

/** kvm_xcrs: up to 16 kvm_xcr entries inline (KVM_MAX_XCRS). */
export const KVM_XCRS = defineStruct('kvm_xcrs', 392, [
  { name: 'nr_xcrs', offset: 0, kind: 'u32' },
  { name: 'flags', offset: 4, kind: 'u32' },
  { name: 'xcrs', offset: 8, kind: { bytes: 256 } },
  { name: 'padding', offset: 264, kind: { bytes: 128 } },
] as const);

export const KVM_MP_STATE_STRUCT = defineStruct('kvm_mp_state', 4, [
  { name: 'mp_state', offset: 0, kind: 'u32' },
] as const);

export const KVM_DEBUGREGS = defineStruct('kvm_debugregs', 128, [
  { name: 'db', offset: 0, kind: { bytes: 32 } },
  { name: 'dr6', offset: 32, kind: 'u64' },
  { name: 'dr7', offset: 40, kind: 'u64' },
  { name: 'flags', offset: 48, kind: 'u64' },
  { name: 'reserved', offset: 56, kind: { bytes: 72 } },
] as const);

/** Only cleared on reset (all zero but `flags`), so the nested structs stay opaque. */
export const KVM_VCPU_EVENTS = defineStruct('kvm_vcpu_events', 64, [
  { name: 'exception', offset: 0, kind: { bytes: 8 } },
  { name: 'interrupt', offset: 8, kind: { bytes: 4 } },
  { name: 'nmi', offset: 12, kind: { bytes: 4 } },
  { name: 'sipi_vector', offset: 16, kind: 'u32' },
  { name: 'flags', offset: 20, kind: 'u32' },
  { name: 'smi', offset: 24, kind: { bytes: 4 } },
] as const);

/** The local APIC register page as KVM_GET/SET_LAPIC see it. */
export const KVM_LAPIC_STATE = defineStruct('kvm_lapic_state', 1024, [
  { name: 'regs', offset: 0, kind: { bytes: 1024 } },
] as const);

/** kvm_irqchip: the PIC or IOAPIC state is an opaque 512-byte union, saved and restored whole. */
export const KVM_IRQCHIP = defineStruct('kvm_irqchip', 520, [
  { name: 'chip_id', offset: 0, kind: 'u32' },
  { name: 'pad', offset: 4, kind: 'u32' },
  { name: 'chip', offset: 8, kind: { bytes: 512 } },
] as const);

export const KVM_PIT_STATE2 = defineStruct('kvm_pit_state2', 112, [
  { name: 'channels', offset: 0, kind: { bytes: 72 } },
  { name: 'flags', offset: 72, kind: 'u32' },
  { name: 'reserved', offset: 76, kind: { bytes: 36 } },
] as const);

/** Header of kvm_signal_mask; `sigset` (len bytes, the kernel's 8-byte sigset) follows. */
export const KVM_SIGNAL_MASK = defineStruct('kvm_signal_mask', 4, [{ name: 'len', offset: 0, kind: 'u32' }] as const);

// ---- struct kvm_run (the mmap()ed vCPU page) ----

export const KVM_RUN = defineStruct('kvm_run', 2352, [
  { name: 'request_interrupt_window', offset: 0, kind: 'u8' },
  { name: 'immediate_exit', offset: 1, kind: 'u8' },
  { name: 'padding1', offset: 2, kind: { bytes: 6 } },
  { name: 'exit_reason', offset: 8, kind: 'u32' },
  { name: 'ready_for_interrupt_injection', offset: 12, kind: 'u8' },
  { name: 'if_flag', offset: 13, kind: 'u8' },
  { name: 'flags', offset: 14, kind: 'u16' },
  { name: 'cr8', offset: 16, kind: 'u64' },
  { name: 'apic_base', offset: 24, kind: 'u64' },
  { name: 'kvm_valid_regs', offset: 288, kind: 'u64' },
  { name: 'kvm_dirty_regs', offset: 296, kind: 'u64' },
  { name: 's', offset: 304, kind: { bytes: 2048 } },
] as const);

/** Where the exit-reason union of kvm_run starts; every `kvm_run.<member>` layout is relative to it. */
export const KVM_RUN_EXIT_OFFSET = 32;

export const KVM_RUN_HW = defineStruct('kvm_run.hw', 8, [{ name: 'hardware_exit_reason', offset: 0, kind: 'u64' }] as const);

export const KVM_RUN_FAIL_ENTRY = defineStruct('kvm_run.fail_entry', 16, [
  { name: 'hardware_entry_failure_reason', offset: 0, kind: 'u64' },
  { name: 'cpu', offset: 8, kind: 'u32' },
] as const);

export const KVM_RUN_IO = defineStruct('kvm_run.io', 16, [
  { name: 'direction', offset: 0, kind: 'u8' },
  { name: 'size', offset: 1, kind: 'u8' },
  { name: 'port', offset: 2, kind: 'u16' },
  { name: 'count', offset: 4, kind: 'u32' },
  { name: 'data_offset', offset: 8, kind: 'u64' },
] as const);

export const KVM_RUN_MMIO = defineStruct('kvm_run.mmio', 24, [
  { name: 'phys_addr', offset: 0, kind: 'u64' },
  { name: 'data', offset: 8, kind: { bytes: 8 } },
  { name: 'len', offset: 16, kind: 'u32' },
  { name: 'is_write', offset: 20, kind: 'u8' },
] as const);

export const KVM_RUN_INTERNAL = defineStruct('kvm_run.internal', 136, [
  { name: 'suberror', offset: 0, kind: 'u32' },
  { name: 'ndata', offset: 4, kind: 'u32' },
  { name: 'data', offset: 8, kind: { bytes: 128 } },
] as const);

export const KVM_RUN_SYSTEM_EVENT = defineStruct('kvm_run.system_event', 136, [
  { name: 'type', offset: 0, kind: 'u32' },
  { name: 'ndata', offset: 4, kind: 'u32' },
  { name: 'data', offset: 8, kind: { bytes: 128 } },
] as const);

/** Every layout above, for the C cross-check. */
export const LAYOUTS = [
  KVM_REGS, KVM_SEGMENT, KVM_DTABLE, KVM_SREGS, KVM_FPU, KVM_MSRS, KVM_MSR_ENTRY, KVM_CPUID2,
  KVM_CPUID_ENTRY2, KVM_XSAVE, KVM_USERSPACE_MEMORY_REGION, KVM_PIT_CONFIG, KVM_IRQ_LEVEL, KVM_XCR, KVM_XCRS,
  KVM_MP_STATE_STRUCT, KVM_DEBUGREGS, KVM_VCPU_EVENTS, KVM_LAPIC_STATE, KVM_IRQCHIP, KVM_PIT_STATE2,
  KVM_SIGNAL_MASK, KVM_RUN, KVM_RUN_HW, KVM_RUN_FAIL_ENTRY, KVM_RUN_IO, KVM_RUN_MMIO, KVM_RUN_INTERNAL,
  KVM_RUN_SYSTEM_EVENT,
] as const;

/** Offsets of flexible array members (C `type name[0]`), which a fixed layout cannot hold. */
export const FLEXIBLE_ARRAYS = {
  'kvm_msrs.entries': 8,
  'kvm_cpuid2.entries': 8,
  'kvm_signal_mask.sigset': 4,
} as const;

// ---- ioctl numbers (asm-generic/ioctl.h encoding) ----

const KVMIO = 0xae;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
}
const io = (nr: number) => ioc(IOC_NONE, nr, 0);
const ior = (nr: number, size: number) => ioc(IOC_READ, nr, size);
const iow = (nr: number, size: number) => ioc(IOC_WRITE, nr, size);
const iowr = (nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, nr, size);

export const KVM_IOCTL = {
  // system (/dev/kvm)
  KVM_GET_API_VERSION: io(0x00),
  KVM_CREATE_VM: io(0x01),
  KVM_CHECK_EXTENSION: io(0x03),
  KVM_GET_VCPU_MMAP_SIZE: io(0x04),
  KVM_GET_SUPPORTED_CPUID: iowr(0x05, KVM_CPUID2.size),
  // VM
  KVM_CREATE_VCPU: io(0x41),
  KVM_SET_USER_MEMORY_REGION: iow(0x46, KVM_USERSPACE_MEMORY_REGION.size),
  KVM_SET_TSS_ADDR: io(0x47),
  KVM_SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  KVM_CREATE_IRQCHIP: io(0x60),
  KVM_IRQ_LINE: iow(0x61, KVM_IRQ_LEVEL.size),
  KVM_GET_IRQCHIP: iowr(0x62, KVM_IRQCHIP.size),
  // _IOR although it writes: a historical mistake kept for ABI compatibility.
  KVM_SET_IRQCHIP: ior(0x63, KVM_IRQCHIP.size),
  KVM_CREATE_PIT2: iow(0x77, KVM_PIT_CONFIG.size),
  KVM_GET_PIT2: ior(0x9f, KVM_PIT_STATE2.size),
  KVM_SET_PIT2: iow(0xa0, KVM_PIT_STATE2.size),
  // vCPU
  KVM_RUN: io(0x80),
  KVM_GET_REGS: ior(0x81, KVM_REGS.size),
  KVM_SET_REGS: iow(0x82, KVM_REGS.size),
  KVM_GET_SREGS: ior(0x83, KVM_SREGS.size),
  KVM_SET_SREGS: iow(0x84, KVM_SREGS.size),
  KVM_SET_MSRS: iow(0x89, KVM_MSRS.size),
  KVM_SET_SIGNAL_MASK: iow(0x8b, KVM_SIGNAL_MASK.size),
  KVM_GET_FPU: ior(0x8c, KVM_FPU.size),
  KVM_SET_FPU: iow(0x8d, KVM_FPU.size),
  KVM_GET_LAPIC: ior(0x8e, KVM_LAPIC_STATE.size),
  KVM_SET_LAPIC: iow(0x8f, KVM_LAPIC_STATE.size),
  KVM_SET_CPUID2: iow(0x90, KVM_CPUID2.size),
  KVM_GET_MP_STATE: ior(0x98, KVM_MP_STATE_STRUCT.size),
  KVM_SET_MP_STATE: iow(0x99, KVM_MP_STATE_STRUCT.size),
  KVM_SET_VCPU_EVENTS: iow(0xa0, KVM_VCPU_EVENTS.size),
  KVM_SET_DEBUGREGS: iow(0xa2, KVM_DEBUGREGS.size),
  KVM_SET_XSAVE: iow(0xa5, KVM_XSAVE.size),
  KVM_SET_XCRS: iow(0xa7, KVM_XCRS.size),
} as const;
export type KvmIoctlName = keyof typeof KVM_IOCTL;

// ---- constants, grouped by C prefix (the C name is prefix + key) ----

export const KVM_API_VERSION = 12;

export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
} as const;

export const KVM_EXIT_IO = { IN: 0, OUT: 1 } as const;

export const KVM_INTERNAL_ERROR = {
  EMULATION: 1,
  SIMUL_EX: 2,
  DELIVERY_EV: 3,
  UNEXPECTED_EXIT_REASON: 4,
} as const;

export const KVM_SYSTEM_EVENT = { SHUTDOWN: 1, RESET: 2, CRASH: 3 } as const;

export const KVM_MP_STATE = {
  RUNNABLE: 0,
  UNINITIALIZED: 1,
  INIT_RECEIVED: 2,
  HALTED: 3,
  SIPI_RECEIVED: 4,
} as const;

export const KVM_CAP = {
  IRQCHIP: 0,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  EXT_CPUID: 7,
  NR_VCPUS: 9,
  NR_MEMSLOTS: 10,
  MP_STATE: 14,
  PIT2: 33,
  SET_IDENTITY_MAP_ADDR: 37,
  VCPU_EVENTS: 41,
  DEBUGREGS: 50,
  XSAVE: 55,
  XCRS: 56,
  MAX_VCPUS: 66,
  TSC_DEADLINE_TIMER: 72,
  IMMEDIATE_EXIT: 136,
  XSAVE2: 208,
} as const;

/** PIT flag: emulate port 0x61 (PC speaker / PIT channel 2 gate) in the kernel. */
export const KVM_PIT_SPEAKER_DUMMY = 1;
/** kvm_cpuid_entry2.flags: the entry depends on ECX (the subleaf). */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;
export const KVM_VCPUEVENT_VALID_NMI_PENDING = 1;
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;
export const KVM_MAX_XCRS = 16;

/** Constant groups and their C prefixes, for the C cross-check. */
export const CONSTANT_GROUPS = {
  KVM_EXIT_: KVM_EXIT,
  KVM_EXIT_IO_: KVM_EXIT_IO,
  KVM_INTERNAL_ERROR_: KVM_INTERNAL_ERROR,
  KVM_SYSTEM_EVENT_: KVM_SYSTEM_EVENT,
  KVM_MP_STATE_: KVM_MP_STATE,
  KVM_CAP_: KVM_CAP,
  '': {
    KVM_API_VERSION,
    KVM_PIT_SPEAKER_DUMMY,
    KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
    KVM_VCPUEVENT_VALID_NMI_PENDING,
    KVM_IRQCHIP_PIC_MASTER,
    KVM_IRQCHIP_PIC_SLAVE,
    KVM_IRQCHIP_IOAPIC,
    KVM_MAX_XCRS,
  },
} as const;
