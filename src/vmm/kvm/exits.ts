/**
 * `VcpuExit`, why KVM_RUN returned (rust-vmm's `VcpuExit`), decoded from the kvm_run page. Pure:
 * it takes the page's bytes, so the run loop and its tests never need KVM to build an exit.
 */
import {
  KVM_EXIT,
  KVM_EXIT_IO,
  KVM_RUN,
  KVM_RUN_EXIT_OFFSET,
  KVM_RUN_FAIL_ENTRY,
  KVM_RUN_HW,
  KVM_RUN_INTERNAL,
  KVM_RUN_IO,
  KVM_RUN_MMIO,
  KVM_RUN_SYSTEM_EVENT,
  KVM_SYSTEM_EVENT,
} from './abi.js';

export type SystemEventType = 'shutdown' | 'reset' | 'crash' | 'other';

/**
 * For io-in and mmio-read, `data` is where the answer goes (a view into kvm_run on the vCPU thread):
 * fill it and re-enter KVM_RUN. For string I/O, `data` holds `count` items of `size` bytes.
 */
export type VcpuExit =
  | { readonly kind: 'io-in'; readonly port: number; readonly size: number; readonly count: number; readonly data: Uint8Array }
  | { readonly kind: 'io-out'; readonly port: number; readonly size: number; readonly count: number; readonly data: Uint8Array }
  | { readonly kind: 'mmio-read'; readonly address: bigint; readonly length: number; readonly data: Uint8Array }
  | { readonly kind: 'mmio-write'; readonly address: bigint; readonly length: number; readonly data: Uint8Array }
  | { readonly kind: 'hlt' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'fail-entry'; readonly hardwareEntryFailureReason: bigint; readonly cpu: number }
  | { readonly kind: 'internal-error'; readonly suberror: number; readonly data: readonly bigint[] }
  | { readonly kind: 'system-event'; readonly type: SystemEventType; readonly code: number; readonly data: readonly bigint[] }
  | { readonly kind: 'interrupted'; readonly cause: 'EINTR' | 'EAGAIN' }
  | { readonly kind: 'unknown'; readonly exitReason: number; readonly hardwareExitReason?: bigint };

export type VcpuExitKind = VcpuExit['kind'];

const EXIT_NAMES = new Map<number, string>(Object.entries(KVM_EXIT).map(([k, v]) => [v, `KVM_EXIT_${k}`]));

export function exitReasonName(reason: number): string {
  return EXIT_NAMES.get(reason) ?? `exit reason ${reason}`;
}

function u64s(bytes: Uint8Array, count: number): bigint[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: Math.min(count, bytes.length / 8) }, (_, i) => dv.getBigUint64(i * 8, true));
}

function systemEventType(code: number): SystemEventType {
  switch (code) {
    case KVM_SYSTEM_EVENT.SHUTDOWN:
      return 'shutdown';
    case KVM_SYSTEM_EVENT.RESET:
      return 'reset';
    case KVM_SYSTEM_EVENT.CRASH:
      return 'crash';
    default:
      return 'other';
  }
}

/** Decode the exit described by a kvm_run page (`run` spans the whole vCPU mapping). */
export function decodeExit(run: Uint8Array): VcpuExit {
  const reason = KVM_RUN.read(run).exit_reason;
  const at = KVM_RUN_EXIT_OFFSET;
  switch (reason) {
    case KVM_EXIT.IO: {
      const io = KVM_RUN_IO.read(run, at);
      const start = Number(io.data_offset);
      const end = start + io.size * io.count;
      if (end > run.length) throw new RangeError(`KVM_EXIT_IO data [${start}, ${end}) lies outside the ${run.length}-byte kvm_run mapping`);
      const data = run.subarray(start, end);
      const kind = io.direction === KVM_EXIT_IO.OUT ? 'io-out' : 'io-in';
      return { kind, port: io.port, size: io.size, count: io.count, data };
    }
    case KVM_EXIT.MMIO: {
      const mmio = KVM_RUN_MMIO.read(run, at);
      const length = Math.min(mmio.len, 8);
      const data = mmio.data.subarray(0, length);
      return { kind: mmio.is_write ? 'mmio-write' : 'mmio-read', address: mmio.phys_addr, length, data };
    }
    case KVM_EXIT.HLT:
      return { kind: 'hlt' };
    case KVM_EXIT.SHUTDOWN:
      return { kind: 'shutdown' };
    case KVM_EXIT.FAIL_ENTRY: {
      const f = KVM_RUN_FAIL_ENTRY.read(run, at);
      return { kind: 'fail-entry', hardwareEntryFailureReason: f.hardware_entry_failure_reason, cpu: f.cpu };
    }
    case KVM_EXIT.INTERNAL_ERROR: {
      const e = KVM_RUN_INTERNAL.read(run, at);
      return { kind: 'internal-error', suberror: e.suberror, data: u64s(e.data, e.ndata) };
    }
    case KVM_EXIT.SYSTEM_EVENT: {
      const e = KVM_RUN_SYSTEM_EVENT.read(run, at);
      // Before Linux 5.18 the union held only `flags` (now data[0]) and ndata was padding.
      return { kind: 'system-event', type: systemEventType(e.type), code: e.type, data: u64s(e.data, Math.max(e.ndata, 1)) };
    }
    case KVM_EXIT.INTR:
      return { kind: 'interrupted', cause: 'EINTR' };
    case KVM_EXIT.UNKNOWN:
      return { kind: 'unknown', exitReason: reason, hardwareExitReason: KVM_RUN_HW.read(run, at).hardware_exit_reason };
    default:
      return { kind: 'unknown', exitReason: reason };
  }
}

/** One line describing an exit, for logs and error reports. */
export function describeExit(exit: VcpuExit): string {
  const hex = (v: number | bigint) => `0x${v.toString(16)}`;
  switch (exit.kind) {
    case 'io-in':
    case 'io-out':
      return `${exit.kind} port ${hex(exit.port)} size ${exit.size}${exit.count > 1 ? ` count ${exit.count}` : ''}`;
    case 'mmio-read':
    case 'mmio-write':
      return `${exit.kind} ${hex(exit.address)} length ${exit.length}`;
    case 'hlt':
      return 'KVM_EXIT_HLT';
    case 'shutdown':
      return 'KVM_EXIT_SHUTDOWN (triple fault)';
    case 'fail-entry':
      return `KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason ${hex(exit.hardwareEntryFailureReason)} on host cpu ${exit.cpu}`;
    case 'internal-error':
      return `KVM_EXIT_INTERNAL_ERROR: suberror ${exit.suberror} (${internalErrorName(exit.suberror)})${exit.data.length ? `, data ${exit.data.map(hex).join(' ')}` : ''}`;
    case 'system-event':
      return `KVM_EXIT_SYSTEM_EVENT ${exit.type} (type ${exit.code})`;
    case 'interrupted':
      return `KVM_RUN interrupted (${exit.cause})`;
    case 'unknown':
      return `${exitReasonName(exit.exitReason)}${exit.hardwareExitReason !== undefined ? `: hardware_exit_reason ${hex(exit.hardwareExitReason)}` : ''}`;
  }
}

function internalErrorName(suberror: number): string {
  return (
    ['', 'emulation failure', 'simultaneous exceptions', 'exit during event delivery', 'unexpected exit reason'][suberror] ??
    'unknown suberror'
  );
}
