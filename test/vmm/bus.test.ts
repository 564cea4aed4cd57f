// The port I/O bus: dispatch by range, string I/O, unclaimed ports (all ones, counted), overlaps.
import { describe, expect, it } from 'vitest';
import { allOnes, DeviceBus, type PioDevice } from '../../src/vmm/devices/bus.js';

function recorder(readValue = 0x12345678): PioDevice & { log: string[]; resets: number } {
  const log: string[] = [];
  return {
    log,
    resets: 0,
    read(offset, size) {
      log.push(`r${offset}/${size}`);
      return readValue;
    },
    write(offset, size, value) {
      log.push(`w${offset}/${size}=${value.toString(16)}`);
    },
    reset() {
      this.resets++;
    },
  };
}

describe('DeviceBus', () => {
  it('dispatches to the device whose range holds the port, with the offset', () => {
    const bus = new DeviceBus();
    const dev = recorder();
    bus.register(0x3f8, 8, 'com1', dev);
    bus.write(0x3fb, 1, 0x83);
    expect(bus.read(0x3fd, 1)).toBe(0x12345678);
    expect(dev.log).toEqual(['w3/1=83', 'r5/1']);
    expect(bus.deviceAt(0x3ff)).toBe('com1');
    expect(bus.deviceAt(0x400)).toBeUndefined();
  });

  it('reads all ones from unclaimed ports, ignores writes, and counts both', () => {
    const bus = new DeviceBus();
    expect(bus.read(0x70, 1)).toBe(0xff);
    expect(bus.read(0x70, 2)).toBe(0xffff);
    expect(bus.read(0x71, 4)).toBe(0xffff_ffff);
    bus.write(0x80, 1, 0);
    bus.write(0x80, 1, 1);
    bus.write(0x80, 1, 2);
    const s = bus.stats;
    expect(s.unclaimedReads).toBe(3);
    expect(s.unclaimedWrites).toBe(3);
    expect(s.unclaimedPorts).toEqual([
      { port: 0x80, reads: 0, writes: 3 },
      { port: 0x70, reads: 2, writes: 0 },
      { port: 0x71, reads: 1, writes: 0 },
    ]);
  });

  it('handles string I/O: count items of size bytes, in order', () => {
    const bus = new DeviceBus();
    let next = 0x41;
    const dev = recorder();
    dev.read = () => next++;
    bus.register(0x3f8, 8, 'com1', dev);
    const inData = new Uint8Array(6);
    bus.handleIn(0x3f8, 2, 3, inData);
    expect([...inData]).toEqual([0x41, 0, 0x42, 0, 0x43, 0]);
    bus.handleOut(0x3f8, 1, 3, Uint8Array.of(1, 2, 3));
    expect(dev.log).toEqual(['w0/1=1', 'w0/1=2', 'w0/1=3']);
    const wide = new Uint8Array(4);
    bus.handleIn(0x1000, 4, 1, wide);
    expect([...wide]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('masks values to the access size', () => {
    const bus = new DeviceBus();
    const dev = recorder(0xfffe_1234);
    bus.register(0x60, 1, 'kbd', dev);
    const data = new Uint8Array(1);
    bus.handleIn(0x60, 1, 1, data);
    expect(data[0]).toBe(0x34);
  });

  it('refuses overlapping or out-of-range registrations', () => {
    const bus = new DeviceBus();
    bus.register(0xcf8, 1, 'pci-address', recorder());
    bus.register(0xcf9, 1, 'reset-control', recorder());
    expect(() => bus.register(0xcf8, 4, 'wide', recorder())).toThrow(/overlaps pci-address/);
    expect(() => bus.register(0xffff, 2, 'past-end', recorder())).toThrow(/0\.\.0xffff/);
  });

  it('resets every device', () => {
    const bus = new DeviceBus();
    const a = recorder();
    const b = recorder();
    bus.register(0x10, 1, 'a', a);
    bus.register(0x20, 1, 'b', b);
    bus.reset();
    expect([a.resets, b.resets]).toEqual([1, 1]);
  });

  it('computes all-ones values by size', () => {
    expect([1, 2, 4].map(allOnes)).toEqual([0xff, 0xffff, 0xffff_ffff]);
  });
});
