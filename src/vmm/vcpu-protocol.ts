/**
 * The contract between the main thread and a vCPU thread (see vm-runner.ts for the design):
 * messages in each direction, and the shared control block through which the main thread answers
 * an exit while the vCPU thread waits (Atomics.wait) and tells it to park.
 */
import type { VcpuExit } from './kvm/exits.js';

/** Int32 slots of the control block. */
export const SLOT = {
  /** main -> vCPU: COMMAND_RUN or COMMAND_PARK, read after every exit and every kick. */
  COMMAND: 0,
  /** Bumped by the main thread when a reply is ready. */
  REPLY_SEQ: 1,
  REPLY_ACTION: 2,
  REPLY_LENGTH: 3,
} as const;

export const COMMAND_RUN = 0;
export const COMMAND_PARK = 1;
export const REPLY_CONTINUE = 0;
export const REPLY_PARK = 1;

/** Reply data (the bytes of an io-in or mmio-read) follows the four slots; one page covers string I/O. */
export const REPLY_DATA_OFFSET = 16;
export const REPLY_DATA_SIZE = 4096;

export function createControlBlock(): SharedArrayBuffer {
  return new SharedArrayBuffer(REPLY_DATA_OFFSET + REPLY_DATA_SIZE);
}

export interface VcpuThreadInit {
  readonly fd: number;
  readonly id: number;
  readonly mmapSize: number;
  readonly control: SharedArrayBuffer;
  /** The signal that kicks the thread out of KVM_RUN. */
  readonly kickSignal: number;
}

export type ToVcpuThread = { readonly type: 'run' } | { readonly type: 'close' };

export type FromVcpuThread =
  | { readonly type: 'ready'; readonly tid: number }
  /** An exit the main thread must answer through the control block. */
  | { readonly type: 'exit'; readonly exit: VcpuExit }
  | { readonly type: 'parked'; readonly cause: 'command' | 'exit' }
  /** KVM_RUN or the thread failed; the thread is parked (or gone). */
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'closed' };

export interface ExitReply {
  readonly park: boolean;
  /** For io-in and mmio-read: the bytes to hand to the guest. */
  readonly data?: Uint8Array;
}

/** An exit that survives postMessage: `data` copied out of the kvm_run page (a view would clone the whole mapping). */
export function portableExit(exit: VcpuExit): VcpuExit {
  switch (exit.kind) {
    case 'io-in':
    case 'io-out':
    case 'mmio-read':
    case 'mmio-write':
      return { ...exit, data: exit.data.slice() };
    default:
      return exit;
  }
}

/** Main-thread side: publish a reply for the waiting vCPU thread. */
export function writeReply(control: SharedArrayBuffer, reply: ExitReply): void {
  const slots = new Int32Array(control, 0, 4);
  const data = reply.data ?? new Uint8Array(0);
  if (data.length > REPLY_DATA_SIZE) throw new RangeError(`exit reply of ${data.length} bytes exceeds ${REPLY_DATA_SIZE}`);
  new Uint8Array(control, REPLY_DATA_OFFSET, data.length).set(data);
  Atomics.store(slots, SLOT.REPLY_LENGTH, data.length);
  Atomics.store(slots, SLOT.REPLY_ACTION, reply.park ? REPLY_PARK : REPLY_CONTINUE);
  Atomics.add(slots, SLOT.REPLY_SEQ, 1);
  Atomics.notify(slots, SLOT.REPLY_SEQ);
}

/** vCPU-thread side: wait until the reply after `seq` is published, then read it. */
export function awaitReply(control: SharedArrayBuffer, seq: number): ExitReply {
  const slots = new Int32Array(control, 0, 4);
  while (Atomics.load(slots, SLOT.REPLY_SEQ) === seq) Atomics.wait(slots, SLOT.REPLY_SEQ, seq);
  const length = Atomics.load(slots, SLOT.REPLY_LENGTH);
  const park = Atomics.load(slots, SLOT.REPLY_ACTION) === REPLY_PARK;
  return { park, data: new Uint8Array(control, REPLY_DATA_OFFSET, length).slice() };
}

export function replySeq(control: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(control, 0, 4), SLOT.REPLY_SEQ);
}

export function setCommand(control: SharedArrayBuffer, command: typeof COMMAND_RUN | typeof COMMAND_PARK): void {
  Atomics.store(new Int32Array(control, 0, 4), SLOT.COMMAND, command);
}

export function parkRequested(control: SharedArrayBuffer): boolean {
  return Atomics.load(new Int32Array(control, 0, 4), SLOT.COMMAND) === COMMAND_PARK;
}
