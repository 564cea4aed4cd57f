// Decoding kvm_run pages into VcpuExit values, built with the same layouts KVM's header was checked against.
import { describe, expect, it } from 'vitest';
import {
  KVM_EXIT,
  KVM_RUN,
  KVM_RUN_EXIT_OFFSET,
  KVM_RUN_FAIL_ENTRY,
  KVM_RUN_HW,
  KVM_RUN_INTERNAL,
  KVM_RUN_IO,
  KVM_RUN_MMIO,
  KVM_RUN_SYSTEM_EVENT,
} from '../../src/vmm/kvm/abi.js';
import { decodeExit, describeExit, exitReasonName } from '../../src/vmm/kvm/exits.js';

const PAGE = 4096;

function runPage(reason: number): Uint8Array {
  const page = new Uint8Array(3 * PAGE);
  const header = KVM_RUN.read(page);
  KVM_RUN.write({ ...header, exit_reason: reason }, page);
  return page;
}

function u64s(values: bigint[]): Uint8Array {
  const out = new Uint8Array(128);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigUint64(i * 8, v, true));
  return out;
}

describe('decodeExit', () => {
  it('decodes port output with a view of the data page', () => {
    const page = runPage(KVM_EXIT.IO);
    KVM_RUN_IO.write({ direction: 1, size: 1, port: 0x3f8, count: 1, data_offset: BigInt(PAGE) }, page, KVM_RUN_EXIT_OFFSET);
    page[PAGE] = 0x41;
    const exit = decodeExit(page);
    expect(exit).toMatchObject({ kind: 'io-out', port: 0x3f8, size: 1, count: 1 });
    if (exit.kind !== 'io-out') throw new Error('unreachable');
    expect([...exit.data]).toEqual([0x41]);
    expect(exit.data.buffer).toBe(page.buffer);
  });

  it('decodes string input whose data view writes through to the page', () => {
    const page = runPage(KVM_EXIT.IO);
    KVM_RUN_IO.write({ direction: 0, size: 2, port: 0x1f0, count: 4, data_offset: BigInt(PAGE) }, page, KVM_RUN_EXIT_OFFSET);
    const exit = decodeExit(page);
    if (exit.kind !== 'io-in') throw new Error(`expected io-in, got ${exit.kind}`);
    expect(exit.data.length).toBe(8);
    exit.data.fill(0xaa);
    expect(page[PAGE + 7]).toBe(0xaa);
    expect(page[PAGE + 8]).toBe(0);
  });

  it('refuses I/O data outside the mapping', () => {
    const page = runPage(KVM_EXIT.IO);
    KVM_RUN_IO.write({ direction: 0, size: 4, port: 0x80, count: 4096, data_offset: BigInt(PAGE) }, page, KVM_RUN_EXIT_OFFSET);
    expect(() => decodeExit(page)).toThrow(/outside/);
  });

  it('decodes MMIO reads and writes', () => {
    const page = runPage(KVM_EXIT.MMIO);
    const data = Uint8Array.of(1, 2, 3, 4, 0, 0, 0, 0);
    KVM_RUN_MMIO.write({ phys_addr: 0xfed0_0000n, data, len: 4, is_write: 1 }, page, KVM_RUN_EXIT_OFFSET);
    const w = decodeExit(page);
    expect(w).toMatchObject({ kind: 'mmio-write', address: 0xfed0_0000n, length: 4 });
    if (w.kind !== 'mmio-write') throw new Error('unreachable');
    expect([...w.data]).toEqual([1, 2, 3, 4]);
    KVM_RUN_MMIO.write({ phys_addr: 0xfed0_0000n, data, len: 8, is_write: 0 }, page, KVM_RUN_EXIT_OFFSET);
    const r = decodeExit(page);
    if (r.kind !== 'mmio-read') throw new Error('unreachable');
    r.data.fill(0xff);
    expect(page[KVM_RUN_EXIT_OFFSET + 8 + 7]).toBe(0xff);
  });

  it('decodes the exits without payload', () => {
    expect(decodeExit(runPage(KVM_EXIT.HLT))).toEqual({ kind: 'hlt' });
    expect(decodeExit(runPage(KVM_EXIT.SHUTDOWN))).toEqual({ kind: 'shutdown' });
    expect(decodeExit(runPage(KVM_EXIT.INTR))).toEqual({ kind: 'interrupted', cause: 'EINTR' });
  });

  it('decodes a failed VM entry', () => {
    const page = runPage(KVM_EXIT.FAIL_ENTRY);
    KVM_RUN_FAIL_ENTRY.write({ hardware_entry_failure_reason: 0x80000021n, cpu: 3 }, page, KVM_RUN_EXIT_OFFSET);
    const exit = decodeExit(page);
    expect(exit).toEqual({ kind: 'fail-entry', hardwareEntryFailureReason: 0x80000021n, cpu: 3 });
    expect(describeExit(exit)).toBe('KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason 0x80000021 on host cpu 3');
  });

  it('decodes an internal error with its data words', () => {
    const page = runPage(KVM_EXIT.INTERNAL_ERROR);
    KVM_RUN_INTERNAL.write({ suberror: 1, ndata: 2, data: u64s([0x10n, 0x20n]) }, page, KVM_RUN_EXIT_OFFSET);
    const exit = decodeExit(page);
    expect(exit).toEqual({ kind: 'internal-error', suberror: 1, data: [0x10n, 0x20n] });
    expect(describeExit(exit)).toBe('KVM_EXIT_INTERNAL_ERROR: suberror 1 (emulation failure), data 0x10 0x20');
  });

  it('decodes system events by type', () => {
    const page = runPage(KVM_EXIT.SYSTEM_EVENT);
    const types = [1, 2, 3, 9].map((type) => {
      KVM_RUN_SYSTEM_EVENT.write({ type, ndata: 0, data: u64s([5n]) }, page, KVM_RUN_EXIT_OFFSET);
      const e = decodeExit(page);
      return e.kind === 'system-event' ? [e.type, e.code, e.data] : e.kind;
    });
    expect(types).toEqual([
      ['shutdown', 1, [5n]],
      ['reset', 2, [5n]],
      ['crash', 3, [5n]],
      ['other', 9, [5n]],
    ]);
  });

  it('passes other exit reasons through as unknown', () => {
    const page = runPage(KVM_EXIT.UNKNOWN);
    KVM_RUN_HW.write({ hardware_exit_reason: 0x31n }, page, KVM_RUN_EXIT_OFFSET);
    expect(decodeExit(page)).toEqual({ kind: 'unknown', exitReason: 0, hardwareExitReason: 0x31n });
    expect(decodeExit(runPage(KVM_EXIT.DEBUG))).toEqual({ kind: 'unknown', exitReason: 4 });
    expect(describeExit(decodeExit(runPage(KVM_EXIT.DEBUG)))).toBe('KVM_EXIT_DEBUG');
    expect(exitReasonName(99)).toBe('exit reason 99');
  });
});
