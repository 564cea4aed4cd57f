// isa-debug-exit, reset control (0xcf9), PCI configuration (0xcf8/0xcfc) and the i8042, through their ports.
import { describe, expect, it } from 'vitest';
import { DebugExit, debugExitStatus } from '../../src/vmm/devices/debug-exit.js';
import { I8042 } from '../../src/vmm/devices/i8042.js';
import { PciConfig } from '../../src/vmm/devices/pci-config.js';
import { ResetControl } from '../../src/vmm/devices/reset-control.js';

describe('DebugExit', () => {
  it('exits with (value << 1) | 1 for 1- to 4-byte writes, as QEMU', () => {
    const exits: [number, number][] = [];
    const dev = new DebugExit((status, value) => exits.push([status, value]));
    dev.write(0, 1, 0);
    dev.write(0, 1, 0x10);
    dev.write(0, 2, 0x31);
    dev.write(0, 4, 0xffff_ffff);
    expect(exits).toEqual([
      [1, 0],
      [0x21, 0x10],
      [0x63, 0x31],
      [0xff, 0xffff_ffff],
    ]);
  });

  it('keeps the low 8 bits of the status, as exit() does', () => {
    expect(debugExitStatus(0)).toBe(1);
    expect(debugExitStatus(1)).toBe(3);
    expect(debugExitStatus(0x80)).toBe(1);
    expect(debugExitStatus(0x7f)).toBe(0xff);
  });

  it('has nothing to read', () => {
    const dev = new DebugExit(() => undefined);
    expect(dev.read(0, 1)).toBe(0xff);
    expect(dev.read(0, 4)).toBe(0xffff_ffff);
  });
});

describe('ResetControl', () => {
  it('resets on a write with RST_CPU (bit 2), e.g. 0x06 and 0x0e', () => {
    const resets: number[] = [];
    const rc = new ResetControl((v) => resets.push(v));
    rc.write(0, 1, 0x06);
    rc.write(0, 1, 0x0e);
    rc.write(0, 1, 0x04);
    expect(resets).toEqual([0x06, 0x0e, 0x04]);
  });

  it('latches SYS_RST and FULL_RST without resetting', () => {
    const resets: number[] = [];
    const rc = new ResetControl((v) => resets.push(v));
    rc.write(0, 1, 0x02);
    expect(rc.read()).toBe(0x02);
    rc.write(0, 1, 0x0b);
    expect(rc.read()).toBe(0x0a);
    expect(resets).toEqual([]);
    rc.reset();
    expect(rc.read()).toBe(0);
  });
});

describe('PciConfig', () => {
  it('latches CONFIG_ADDRESS on dword writes only', () => {
    const pci = new PciConfig();
    pci.addressPort.write(0, 4, 0x8000_0000);
    expect(pci.addressPort.read(0, 4)).toBe(0x8000_0000);
    pci.addressPort.write(0, 1, 0x12);
    expect(pci.configAddress).toBe(0x8000_0000);
    expect(pci.addressPort.read(0, 1)).toBe(0xff);
    pci.addressPort.reset?.();
    expect(pci.configAddress).toBe(0);
  });

  it('answers every configuration read with all ones (no device) and ignores writes', () => {
    const pci = new PciConfig();
    pci.addressPort.write(0, 4, 0x8000_0000); // bus 0, device 0, function 0, vendor id
    expect(pci.dataPort.read(0, 4)).toBe(0xffff_ffff);
    expect(pci.dataPort.read(2, 2)).toBe(0xffff);
    expect(pci.dataPort.read(3, 1)).toBe(0xff);
    pci.dataPort.write(0, 4, 0x1234);
    expect(pci.dataPort.read(0, 4)).toBe(0xffff_ffff);
  });
});

describe('I8042', () => {
  const setup = () => {
    const resets: number[] = [];
    const kbc = new I8042((c) => resets.push(c));
    const status = () => kbc.commandPort.read(0, 1);
    const command = (c: number) => kbc.commandPort.write(0, 1, c);
    const data = () => kbc.dataPort.read(0, 1);
    const writeData = (v: number) => kbc.dataPort.write(0, 1, v);
    return { resets, kbc, status, command, data, writeData };
  };

  it('resets the system on command 0xfe', () => {
    const { resets, command } = setup();
    command(0xfe);
    expect(resets).toEqual([0xfe]);
  });

  it('treats 0xf0-0xff as output-port pulses: only those pulsing bit 0 reset', () => {
    const { resets, command } = setup();
    command(0xff);
    command(0xf1);
    expect(resets).toEqual([]);
    command(0xf0);
    expect(resets).toEqual([0xf0]);
  });

  it('resets when the output port is written with bit 0 clear (0xd1)', () => {
    const { resets, command, writeData } = setup();
    command(0xd1);
    writeData(0xdf);
    expect(resets).toEqual([]);
    command(0xd1);
    writeData(0xde);
    expect(resets).toEqual([0xd1]);
  });

  it('passes its self test and sets the system flag', () => {
    const { status, command, data } = setup();
    expect(status() & 0x01).toBe(0);
    command(0xaa);
    expect(status() & 0x05).toBe(0x05); // OBF | SYS
    expect(data()).toBe(0x55);
    expect(status() & 0x01).toBe(0);
  });

  it('reads and writes the controller configuration byte', () => {
    const { command, data, writeData } = setup();
    command(0x20);
    expect(data()).toBe(0x03);
    command(0x60);
    writeData(0x45);
    command(0x20);
    expect(data()).toBe(0x45);
    command(0xad);
    command(0xa7);
    command(0x20);
    expect(data()).toBe(0x75);
  });

  it('echoes 0xd2/0xd3 bytes through the output buffer, marking aux data', () => {
    const { status, command, data, writeData } = setup();
    command(0xd2);
    writeData(0x42);
    expect(status() & 0x21).toBe(0x01);
    expect(data()).toBe(0x42);
    command(0xd3);
    writeData(0x43);
    expect(status() & 0x21).toBe(0x21);
    expect(data()).toBe(0x43);
  });

  it('tracks whether the last write was a command (status bit 3)', () => {
    const { status, command, writeData } = setup();
    command(0xae);
    expect(status() & 0x08).toBe(0x08);
    writeData(0xf4); // a keyboard command: nothing attached answers
    expect(status() & 0x08).toBe(0);
    expect(status() & 0x01).toBe(0);
  });
});
