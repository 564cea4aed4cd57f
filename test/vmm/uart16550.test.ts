// The 16550A UART model through its port interface (offsets from 0x3f8), as a guest driver uses it.
import { beforeEach, describe, expect, it } from 'vitest';
import { INPUT_LIMIT, Uart16550 } from '../../src/vmm/devices/uart16550.js';

const THR = 0, RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

describe('Uart16550', () => {
  let sent: number[];
  let irq: boolean[];
  let uart: Uart16550;
  const level = () => irq[irq.length - 1] ?? false;

  beforeEach(() => {
    sent = [];
    irq = [];
    uart = new Uart16550({ transmit: (b) => sent.push(b), setIrq: (l) => irq.push(l) });
  });

  it('transmits THR writes and reports the transmitter empty', () => {
    for (const c of 'hi\n') uart.write(THR, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...sent)).toBe('hi\n');
    expect(uart.read(LSR, 1) & 0x60).toBe(0x60); // THRE | TEMT
    expect(irq).toEqual([]); // no interrupt enabled, no line change
  });

  it('starts in the power-on state', () => {
    expect(uart.read(IER, 1)).toBe(0);
    expect(uart.read(IIR, 1)).toBe(0x01);
    expect(uart.read(LCR, 1)).toBe(0);
    expect(uart.read(MCR, 1)).toBe(0x08); // OUT2
    expect(uart.read(LSR, 1)).toBe(0x60);
    expect(uart.read(MSR, 1)).toBe(0xb0); // DCD | DSR | CTS
  });

  it('uses DLL/DLM instead of RBR/THR and IER while LCR.DLAB is set', () => {
    uart.write(LCR, 1, 0x80);
    uart.write(DLL, 1, 0x01);
    uart.write(DLM, 1, 0x00);
    expect(uart.read(DLL, 1)).toBe(0x01);
    expect(uart.read(DLM, 1)).toBe(0x00);
    expect(sent).toEqual([]);
    uart.write(LCR, 1, 0x03);
    expect(uart.read(IER, 1)).toBe(0);
    expect(uart.read(LCR, 1)).toBe(0x03);
  });

  it('keeps the scratch register', () => {
    uart.write(SCR, 1, 0x5a);
    expect(uart.read(SCR, 1)).toBe(0x5a);
  });

  it('queues input: DR, RBR in order, received-data interrupt while enabled', () => {
    uart.write(IER, 1, 0x01);
    expect(level()).toBe(false);
    uart.receive(new TextEncoder().encode('ab'));
    expect(level()).toBe(true);
    expect(uart.read(IIR, 1) & 0x0f).toBe(0x04);
    expect(uart.read(LSR, 1) & 0x01).toBe(1);
    expect(uart.read(RBR, 1)).toBe(0x61);
    expect(level()).toBe(true);
    expect(uart.read(RBR, 1)).toBe(0x62);
    expect(level()).toBe(false);
    expect(uart.read(LSR, 1) & 0x01).toBe(0);
    expect(uart.read(IIR, 1)).toBe(0x01);
  });

  it('raises THRE when enabled, clears it on an IIR read, and re-raises after each byte (a new edge)', () => {
    uart.write(IER, 1, 0x02);
    expect(level()).toBe(true);
    expect(uart.read(IIR, 1)).toBe(0x02);
    expect(level()).toBe(false);
    expect(uart.read(IIR, 1)).toBe(0x01);
    irq = [];
    uart.write(THR, 1, 0x41);
    expect(irq).toEqual([true]);
    uart.write(THR, 1, 0x42);
    expect(irq).toEqual([true, false, true]);
    uart.write(IER, 1, 0x00);
    expect(level()).toBe(false);
  });

  it('prioritises received data over THRE in IIR', () => {
    uart.write(IER, 1, 0x03);
    uart.receive(Uint8Array.of(0x31));
    expect(uart.read(IIR, 1) & 0x0f).toBe(0x04);
    uart.read(RBR, 1);
    expect(uart.read(IIR, 1) & 0x0f).toBe(0x02);
  });

  it('shows the FIFO state in IIR bits 7:6 and clears received bytes on FCR', () => {
    uart.receive(Uint8Array.of(1, 2, 3));
    uart.write(FCR, 1, 0x07);
    expect(uart.read(IIR, 1) & 0xc0).toBe(0xc0);
    expect(uart.pendingInput).toBe(0);
    uart.receive(Uint8Array.of(4));
    uart.write(FCR, 1, 0x01); // still enabled, no clear
    expect(uart.pendingInput).toBe(1);
  });

  it('loops THR back to RBR and MCR to MSR in loopback mode (the 8250 probe)', () => {
    uart.write(MCR, 1, 0x10 | 0x0a); // LOOP | RTS | OUT2, Linux's autoconfig test
    expect(uart.read(MSR, 1) & 0xf0).toBe(0x90);
    uart.write(MCR, 1, 0x1f);
    expect(uart.read(MSR, 1) & 0xf0).toBe(0xf0);
    uart.write(THR, 1, 0x55);
    expect(sent).toEqual([]);
    expect(uart.read(LSR, 1) & 0x01).toBe(1);
    expect(uart.read(RBR, 1)).toBe(0x55);
    uart.write(MCR, 1, 0x08);
    expect(uart.read(MSR, 1)).toBe(0xb0);
  });

  it('drops input beyond the limit and flags an overrun, cleared by reading LSR', () => {
    uart.write(IER, 1, 0x04);
    uart.receive(new Uint8Array(INPUT_LIMIT + 3));
    expect(uart.dropped).toBe(3);
    expect(level()).toBe(true);
    expect(uart.read(IIR, 1) & 0x0f).toBe(0x06);
    expect(uart.read(LSR, 1) & 0x02).toBe(0x02);
    expect(uart.read(LSR, 1) & 0x02).toBe(0);
    expect(level()).toBe(false);
  });

  it('returns to the power-on state on reset and lowers its interrupt', () => {
    uart.write(IER, 1, 0x01);
    uart.write(LCR, 1, 0x03);
    uart.write(SCR, 1, 7);
    uart.receive(Uint8Array.of(1));
    expect(level()).toBe(true);
    uart.reset();
    expect(level()).toBe(false);
    expect(uart.read(IER, 1)).toBe(0);
    expect(uart.read(LCR, 1)).toBe(0);
    expect(uart.read(SCR, 1)).toBe(0);
    expect(uart.pendingInput).toBe(0);
  });
});
