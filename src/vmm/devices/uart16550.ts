/**
 * A 16550A UART (COM1: ports 0x3f8-0x3ff, IRQ 4) as PC guests drive it: transmit is instantaneous
 * (THR is always empty again after a write), received bytes wait in an input queue that stands in
 * for the FIFO. Interrupt semantics follow QEMU's serial model, including the THRE interrupt being
 * re-raised after each transmitted byte (a new edge for the edge-triggered ISA interrupt).
 */
import type { PioDevice } from './bus.js';

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

/** Int32 cells of the UART's shared state; the input queue (a ring of INPUT_LIMIT bytes) follows them. */
const S = { IER: 0, LCR: 1, MCR: 2, SCR: 3, DLL: 4, DLM: 5, FIFO: 6, OVERRUN: 7, THR_PENDING: 8, IRQ: 9, DROPPED: 10, IN_HEAD: 11, IN_LENGTH: 12 } as const;
const CELLS = 16;

/**
 * The registers live in a SharedArrayBuffer (`state`), so that every vCPU thread can run the same
 * UART (each with its own Uart16550 over the one state, under the device lock).
 */
export class Uart16550 implements PioDevice {
  static readonly STATE_BYTES = CELLS * 4 + INPUT_LIMIT;
  private readonly s: Int32Array;
  private readonly queue: Uint8Array;

  constructor(
    private readonly callbacks: UartCallbacks,
    readonly state: SharedArrayBuffer = Uart16550.initialState(),
  ) {
    this.s = new Int32Array(state, 0, CELLS);
    this.queue = new Uint8Array(state, CELLS * 4, INPUT_LIMIT);
  }

  /** Power-on state. */
  static initialState(): SharedArrayBuffer {
    const state = new SharedArrayBuffer(Uart16550.STATE_BYTES);
    const s = new Int32Array(state, 0, CELLS);
    s[S.MCR] = MCR_OUT2;
    s[S.DLL] = 0x0c; // 9600 baud
    return state;
  }

  /** Bytes dropped because the input queue was full. */
  get dropped(): number {
    return this.s[S.DROPPED]!;
  }

  private get ier(): number {
    return this.s[S.IER]!;
  }
  private set ier(v: number) {
    this.s[S.IER] = v;
  }
  private get lcr(): number {
    return this.s[S.LCR]!;
  }
  private set lcr(v: number) {
    this.s[S.LCR] = v;
  }
  private get mcr(): number {
    return this.s[S.MCR]!;
  }
  private set mcr(v: number) {
    this.s[S.MCR] = v;
  }
  private get fifo(): boolean {
    return this.s[S.FIFO] !== 0;
  }
  private set fifo(v: boolean) {
    this.s[S.FIFO] = v ? 1 : 0;
  }
  private get overrun(): boolean {
    return this.s[S.OVERRUN] !== 0;
  }
  private set overrun(v: boolean) {
    this.s[S.OVERRUN] = v ? 1 : 0;
  }
  private get thrPending(): boolean {
    return this.s[S.THR_PENDING] !== 0;
  }
  private set thrPending(v: boolean) {
    this.s[S.THR_PENDING] = v ? 1 : 0;
  }

  private get inputLength(): number {
    return this.s[S.IN_LENGTH]!;
  }

  private pushInput(byte: number): void {
    const at = (this.s[S.IN_HEAD]! + this.s[S.IN_LENGTH]!) % INPUT_LIMIT;
    this.queue[at] = byte;
    this.s[S.IN_LENGTH]!++;
  }

  private shiftInput(): number | undefined {
    if (this.s[S.IN_LENGTH] === 0) return undefined;
    const byte = this.queue[this.s[S.IN_HEAD]!]!;
    this.s[S.IN_HEAD] = (this.s[S.IN_HEAD]! + 1) % INPUT_LIMIT;
    this.s[S.IN_LENGTH]!--;
    return byte;
  }

  private clearInput(): void {
    this.s[S.IN_HEAD] = 0;
    this.s[S.IN_LENGTH] = 0;
  }

  /** Bytes from the console for the guest to read. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.inputLength >= INPUT_LIMIT) {
        this.s[S.DROPPED]!++;
        this.overrun = true;
      } else this.pushInput(b);
    }
    this.update();
  }

  /** Bytes waiting to be read by the guest. */
  get pendingInput(): number {
    return this.inputLength;
  }

  read(offset: number, _size?: number): number {
    switch (offset) {
      case REG.DATA: {
        if (this.lcr & LCR_DLAB) return this.s[S.DLL]!;
        const byte = this.shiftInput() ?? 0;
        this.update();
        return byte;
      }
      case REG.IER:
        return this.lcr & LCR_DLAB ? this.s[S.DLM]! : this.ier;
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
        return this.s[S.SCR]!;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case REG.DATA:
        if (this.lcr & LCR_DLAB) {
          this.s[S.DLL] = v;
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
          this.s[S.DLM] = v;
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
        if (enable !== this.fifo || v & FCR_CLEAR_RX) this.clearInput();
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
        this.s[S.SCR] = v;
        return;
      default:
        return; // LSR and MSR writes are factory-test only
    }
  }

  reset(): void {
    const dropped = this.dropped;
    const irq = this.s[S.IRQ]!;
    this.s.set(new Int32Array(Uart16550.initialState(), 0, CELLS));
    this.s[S.DROPPED] = dropped;
    this.s[S.IRQ] = irq;
    this.update();
  }

  private receiveLooped(byte: number): void {
    if (this.inputLength >= INPUT_LIMIT) this.overrun = true;
    else this.pushInput(byte);
  }

  private lsr(): number {
    return LSR_THRE | LSR_TEMT | (this.inputLength > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0);
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
    if (this.ier & IER_RDI && this.inputLength > 0) return IIR_RDI;
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    // Modem status never changes (no delta bits), so a modem status interrupt (IER bit 3) never fires.
    return IIR_NO_INT;
  }

  private update(): void {
    const level = (this.iir() & IIR_NO_INT) === 0;
    if (level !== (this.s[S.IRQ] !== 0)) {
      this.s[S.IRQ] = level ? 1 : 0;
      this.callbacks.setIrq(level);
    }
  }
}
