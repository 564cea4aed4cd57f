// The shared control block between the main thread and a vCPU thread, and exits that survive postMessage.
import { describe, expect, it } from 'vitest';
import type { VcpuExit } from '../../src/vmm/kvm/exits.js';
import {
  awaitReply,
  COMMAND_PARK,
  COMMAND_RUN,
  createControlBlock,
  parkRequested,
  portableExit,
  REPLY_DATA_SIZE,
  replySeq,
  setCommand,
  writeReply,
} from '../../src/vmm/vcpu-protocol.js';

describe('control block', () => {
  it('carries the run/park command', () => {
    const c = createControlBlock();
    expect(parkRequested(c)).toBe(false);
    setCommand(c, COMMAND_PARK);
    expect(parkRequested(c)).toBe(true);
    setCommand(c, COMMAND_RUN);
    expect(parkRequested(c)).toBe(false);
  });

  it('publishes a reply with data under a new sequence number', () => {
    const c = createControlBlock();
    const seq = replySeq(c);
    writeReply(c, { park: false, data: Uint8Array.of(1, 2, 3) });
    expect(replySeq(c)).toBe(seq + 1);
    expect(awaitReply(c, seq)).toEqual({ park: false, data: Uint8Array.of(1, 2, 3) });
    writeReply(c, { park: true });
    expect(awaitReply(c, seq + 1)).toEqual({ park: true, data: new Uint8Array(0) });
  });

  it('refuses replies larger than a page', () => {
    expect(() => writeReply(createControlBlock(), { park: false, data: new Uint8Array(REPLY_DATA_SIZE + 1) })).toThrow(/exceeds/);
  });
});

describe('portableExit', () => {
  it('copies exit data out of the kvm_run mapping', () => {
    const page = new Uint8Array(8192);
    const exit: VcpuExit = { kind: 'io-out', port: 0x3f8, size: 1, count: 1, data: page.subarray(4096, 4097) };
    const copy = portableExit(exit);
    if (copy.kind !== 'io-out') throw new Error('unreachable');
    expect(copy.data.buffer.byteLength).toBe(1);
    expect(structuredClone(copy)).toEqual(copy);
  });

  it('keeps exits without byte data as they are', () => {
    const exit: VcpuExit = { kind: 'internal-error', suberror: 1, data: [1n] };
    expect(portableExit(exit)).toBe(exit);
  });
});
