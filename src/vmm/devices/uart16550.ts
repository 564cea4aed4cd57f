/**
 * A 16550A UART (COM1: ports 0x3f8-0x3ff, IRQ 4) as PC guests drive it: transmit is instantaneous
 * (THR is always empty again after a write), received bytes wait in an input queue that stands in
 * for the FIFO. Interrupt semantics follow QEMU's serial model, including the THRE interrupt being
 * re-raised after each transmitted byte (a new edge for the edge-triggered ISA interrupt).
 */
import type { PioDevice } from './pio-bus.js';

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
export const UART_PORTS = 8;

const REG = { DATA: 0, IER: 1, IIR_FCR: 2, LCR: 3, MCR: 4, LSR: 5, MSR: 6, SCR: 7 } as const;

const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // transmitter holding register empty
const IER_RLSI = 0x04; // receiver line status

const IIR_NO_INT = 0x01;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;

/** Received bytes beyond this are dropped (and flagged as an overrun). */
export const INPUT_LIMIT = 64 * 1024;

export interface UartCallbacks {
  /** A byte the guest sent (not called in loopback mode). */
  transmit(byte: number): void;
  /** The interrupt line changed. */
  setIrq(level: boolean): void;
}

export class Uart16550 implements PioDevice {
  private input: number[] = [];
  private ier = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private scr = 0;
  private dll = 0x0c; // 9600 baud
  private dlm = 0;
  private fifo = false;
  private overrun = false;
  private thrPending = false;
  private irq = false;
  /** Bytes dropped because the input queue was full. */
  dropped = 0;

  constructor(private readonly callbacks: UartCallbacks) {}

  /** Bytes from the console for the guest to read. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.input.length >= INPUT_LIMIT) {
        this.dropped++;
        this.overrun = true;
      } else this.input.push(b);
    }
    this.update();
  }

  /** Bytes waiting to be read by the guest. */
  get pendingInput(): number {
    return this.input.length;
  }

  read(offset: number, _size?: number): number {
    switch (offset) {
      case REG.DATA: {
        if (this.lcr & LCR_DLAB) return this.dll;
        const byte = this.input.shift() ?? 0;
        this.update();
        return byte;
      }
      case REG.IER:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case REG.IIR_FCR: {
        const iir = this.iir();
        // Reading IIR while it reports THRE acknowledges that interrupt.
        if ((iir & 0x0f) === IIR_THRI) {
          this.thrPending = false;
          this.update();
        }
        return iir | (this.fifo ? IIR_FIFO_ENABLED : 0);
      }
      case REG.LCR:
        return this.lcr;
      case REG.MCR:
        return this.mcr;
      case REG.LSR: {
        const lsr = this.lsr();
        if (this.overrun) {
          this.overrun = false;
          this.update();
        }
        return lsr;
      }
      case REG.MSR:
        return this.msr();
      case REG.SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case REG.DATA:
        if (this.lcr & LCR_DLAB) {
          this.dll = v;
          return;
        }
        this.thrPending = false;
        this.update();
        if (this.mcr & MCR_LOOP) this.receiveLooped(v);
        else this.callbacks.transmit(v);
        // Sent at once: the holding register is empty again, which interrupts if enabled.
        this.thrPending = (this.ier & IER_THRI) !== 0;
        this.update();
        return;
      case REG.IER: {
        if (this.lcr & LCR_DLAB) {
          this.dlm = v;
          return;
        }
        const changed = (this.ier ^ v) & 0x0f;
        this.ier = v & 0x0f;
        if (changed & IER_THRI) this.thrPending = (this.ier & IER_THRI) !== 0;
        this.update();
        return;
      }
      case REG.IIR_FCR: {
        const enable = (v & FCR_ENABLE) !== 0;
        if (enable !== this.fifo || v & FCR_CLEAR_RX) this.input = [];
        this.fifo = enable;
        this.update();
        return;
      }
      case REG.LCR:
        this.lcr = v;
        return;
      case REG.MCR:
        this.mcr = v & 0x1f;
        this.update();
        return;
      case REG.SCR:
        this.scr = v;
        return;
      default:
        return; // LSR and MSR writes are factory-test only
    }
  }

  reset(): void {
    this.input = [];
    this.ier = 0;
    this.lcr = 0;
    this.mcr = MCR_OUT2;
    this.scr = 0;
    this.dll = 0x0c;
    this.dlm = 0;
    this.fifo = false;
    this.overrun = false;
    this.thrPending = false;
    this.update();
  }

  private receiveLooped(byte: number): void {
    if (this.input.length >= INPUT_LIMIT) this.overrun = true;
    else this.input.push(byte);
  }

  private lsr(): number {
    return LSR_THRE | LSR_TEMT | (this.input.length > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0);
  }

  private msr(): number {
    if (!(this.mcr & MCR_LOOP)) return MSR_DCD | MSR_DSR | MSR_CTS;
    // Loopback wires the modem control outputs back to the status inputs.
    return (
      (this.mcr & MCR_RTS ? MSR_CTS : 0) |
      (this.mcr & MCR_DTR ? MSR_DSR : 0) |
      (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
      (this.mcr & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  /** The highest-priority pending interrupt (IIR bits 3:0). */
  private iir(): number {
    if (this.ier & IER_RLSI && this.overrun) return IIR_RLSI;
    if (this.ier & IER_RDI && this.input.length > 0) return IIR_RDI;
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    // Modem status never changes (no delta bits), so a modem status interrupt (IER bit 3) never fires.
    return IIR_NO_INT;
  }

  private update(): void {
    const level = (this.iir() & IIR_NO_INT) === 0;
    if (level !== this.irq) {
      this.irq = level;
      this.callbacks.setIrq(level);
    }
  }
}
