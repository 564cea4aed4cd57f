// The runner's exit dispatch on the platform devices, driven through the public VcpuExit union.
import { describe, expect, it } from 'vitest';
import { ExitDispatcher, SystemRequests } from '../../src/vmm/exit-dispatch.js';
import type { VcpuExit } from '../../src/vmm/kvm/exits.js';
import { createPlatform } from '../../src/vmm/platform.js';
import { mergeBusStats } from '../../src/vmm/vm-runner.js';

function machine() {
  const out: number[] = [];
  const irqs: [number, boolean][] = [];
  const requests = new SystemRequests();
  const platform = createPlatform({ requests, serialOut: (b) => out.push(b), irqLine: (irq, level) => irqs.push([irq, level]) });
  const dispatcher = new ExitDispatcher(platform.bus, requests);
  const outb = (port: number, value: number, size = 1): VcpuExit => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (value >>> (8 * i)) & 0xff;
    return { kind: 'io-out', port, size, count: 1, data };
  };
  const inb = (port: number, size = 1, count = 1): VcpuExit & { kind: 'io-in' } => ({ kind: 'io-in', port, size, count, data: new Uint8Array(size * count) });
  return { out, irqs, platform, dispatcher, outb, inb };
}

describe('ExitDispatcher', () => {
  it('sends COM1 output to the console and continues', () => {
    const m = machine();
    for (const c of 'OK\n') expect(m.dispatcher.dispatch(m.outb(0x3f8, c.charCodeAt(0)))).toEqual({ kind: 'continue' });
    expect(String.fromCharCode(...m.out)).toBe('OK\n');
  });

  it('writes port reads into the exit data (COM1 LSR, an unclaimed port)', () => {
    const m = machine();
    const lsr = m.inb(0x3fd);
    expect(m.dispatcher.dispatch(lsr)).toEqual({ kind: 'continue' });
    expect(lsr.data[0]).toBe(0x60);
    const com2 = m.inb(0x2f8, 1, 2);
    m.dispatcher.dispatch(com2);
    expect([...com2.data]).toEqual([0xff, 0xff]);
    expect(m.platform.bus.stats.unclaimedReads).toBe(2);
  });

  it('drives IRQ 4 from the UART', () => {
    const m = machine();
    m.dispatcher.dispatch(m.outb(0x3f9, 0x02)); // IER: THRE interrupt
    expect(m.irqs).toEqual([[4, true]]);
    m.dispatcher.dispatch(m.inb(0x3fa)); // IIR read acknowledges it
    expect(m.irqs).toEqual([[4, true], [4, false]]);
  });

  it('stops with (value << 1) | 1 on isa-debug-exit', () => {
    const m = machine();
    expect(m.dispatcher.dispatch(m.outb(0xf4, 0x10, 4))).toEqual({
      kind: 'stop',
      status: 0x21,
      reason: 'the guest wrote 0x10 to isa-debug-exit (port 0xf4): exit status 33',
    });
    expect(m.dispatcher.dispatch(m.outb(0xf4, 0))).toMatchObject({ kind: 'stop', status: 1 });
  });

  it('resets on i8042 command 0xfe and on port 0xcf9 with bit 2', () => {
    const m = machine();
    expect(m.dispatcher.dispatch(m.outb(0x64, 0xfe))).toEqual({
      kind: 'reset',
      cause: 'i8042 reset (command 0xfe on port 0x64)',
      diagnose: false,
    });
    expect(m.dispatcher.dispatch(m.outb(0xcf9, 0x02))).toEqual({ kind: 'continue' });
    expect(m.dispatcher.dispatch(m.outb(0xcf9, 0x06))).toEqual({
      kind: 'reset',
      cause: 'reset control register (0x6 to port 0xcf9)',
      diagnose: false,
    });
  });

  it('keeps 0xcf8 (dword) and 0xcf9 (byte) apart', () => {
    const m = machine();
    expect(m.dispatcher.dispatch(m.outb(0xcf8, 0x8000_0000, 4))).toEqual({ kind: 'continue' });
    const addr = m.inb(0xcf8, 4);
    m.dispatcher.dispatch(addr);
    expect(new DataView(addr.data.buffer).getUint32(0, true)).toBe(0x8000_0000);
    const data = m.inb(0xcfc, 4);
    m.dispatcher.dispatch(data);
    expect([...data.data]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('treats a triple fault as a reset worth a register dump', () => {
    expect(machine().dispatcher.dispatch({ kind: 'shutdown' })).toEqual({ kind: 'reset', cause: 'triple fault (KVM_EXIT_SHUTDOWN)', diagnose: true });
  });

  it('maps system events: reset, power off, crash', () => {
    const d = machine().dispatcher;
    const event = (type: 'shutdown' | 'reset' | 'crash' | 'other', code: number): VcpuExit => ({ kind: 'system-event', type, code, data: [] });
    expect(d.dispatch(event('reset', 2))).toMatchObject({ kind: 'reset' });
    expect(d.dispatch(event('shutdown', 1))).toMatchObject({ kind: 'stop', status: 0 });
    expect(d.dispatch(event('crash', 3))).toMatchObject({ kind: 'fault' });
    expect(d.dispatch(event('other', 7))).toEqual({ kind: 'fault', reason: 'unexpected KVM_EXIT_SYSTEM_EVENT other (type 7)' });
  });

  it('reports entry failures, internal errors and unknown exits as faults', () => {
    const d = machine().dispatcher;
    expect(d.dispatch({ kind: 'fail-entry', hardwareEntryFailureReason: 0x21n, cpu: 0 })).toEqual({
      kind: 'fault',
      reason: 'the CPU refused to enter the guest: KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason 0x21 on host cpu 0',
    });
    expect(d.dispatch({ kind: 'internal-error', suberror: 1, data: [] })).toEqual({
      kind: 'fault',
      reason: 'KVM_EXIT_INTERNAL_ERROR: suberror 1 (emulation failure)',
    });
    expect(d.dispatch({ kind: 'unknown', exitReason: 4 })).toEqual({ kind: 'fault', reason: 'unhandled exit: KVM_EXIT_DEBUG' });
    expect(d.dispatch({ kind: 'hlt' })).toMatchObject({ kind: 'fault' });
  });

  it('reads unclaimed MMIO as all ones and counts MMIO by address', () => {
    const d = machine().dispatcher;
    const read: VcpuExit & { kind: 'mmio-read' } = { kind: 'mmio-read', address: 0xfed0_00f0n, length: 4, data: new Uint8Array(4) };
    expect(d.dispatch(read)).toEqual({ kind: 'continue' });
    expect([...read.data]).toEqual([0xff, 0xff, 0xff, 0xff]);
    d.dispatch({ kind: 'mmio-write', address: 0xfed0_00f0n, length: 4, data: new Uint8Array(4) });
    d.dispatch({ kind: 'mmio-write', address: 0xb8000n, length: 1, data: new Uint8Array(1) });
    expect(d.mmioStats).toEqual({
      reads: 1,
      writes: 2,
      addresses: [
        { address: 0xfed0_00f0n, count: 2 },
        { address: 0xb8000n, count: 1 },
      ],
    });
  });

  it('lets the first device request of an exit win', () => {
    const requests = new SystemRequests();
    requests.reset('first');
    requests.exit(3, 'second');
    expect(requests.take()).toEqual({ kind: 'reset', cause: 'first' });
    expect(requests.take()).toBeUndefined();
  });
});

describe('mergeBusStats', () => {
  it('adds up the unclaimed accesses of every vCPU thread', () => {
    const a = machine();
    const b = machine();
    a.dispatcher.dispatch(a.outb(0x80, 1));
    a.dispatcher.dispatch(a.outb(0x80, 2));
    b.dispatcher.dispatch(b.outb(0x80, 3));
    b.dispatcher.dispatch(b.inb(0x99));
    b.dispatcher.dispatch({ kind: 'mmio-write', address: 0xb8000n, length: 1, data: new Uint8Array(1) });
    const merged = mergeBusStats([
      { pio: a.platform.bus.stats, mmio: a.platform.bus.mmioStats },
      { pio: b.platform.bus.stats, mmio: b.platform.bus.mmioStats },
    ]);
    expect(merged.pio).toEqual({
      unclaimedReads: 1,
      unclaimedWrites: 3,
      unclaimedPorts: [
        { port: 0x80, reads: 0, writes: 3 },
        { port: 0x99, reads: 1, writes: 0 },
      ],
    });
    expect(merged.mmio).toEqual({ reads: 0, writes: 1, addresses: [{ address: 0xb8000n, count: 1 }] });
  });
});
