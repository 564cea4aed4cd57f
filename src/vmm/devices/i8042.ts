/**
 * An i8042 keyboard controller with no keyboard or mouse attached: enough for guests that probe it
 * (self test, command byte, output port) and for the classic reset, command 0xfe on port 0x64
 * (any 0xf0-0xff pulse with bit 0 clear pulses the CPU reset line), or output port bit 0 cleared
 * through command 0xd1. No interrupts: with no devices nothing is ever unsolicited.
 */
import type { PioDevice } from './bus.js';

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;

const STATUS_OBF = 0x01;
const STATUS_SYS = 0x04;
const STATUS_CMD = 0x08;
const STATUS_UNLOCKED = 0x10;
const STATUS_AUX_OBF = 0x20;

const CTR_KBD_DISABLED = 0x10;
const CTR_AUX_DISABLED = 0x20;
const CTR_RESET = 0x03; // keyboard and aux interrupts enabled, as QEMU

const OUTPORT_RESET = 0x01; // 0 holds the CPU in reset
const OUTPORT_RESET_VALUE = 0xcf; // reset line high, A20 on, the rest as QEMU

const CMD = {
  READ_CTR: 0x20,
  WRITE_CTR: 0x60,
  DISABLE_AUX: 0xa7,
  ENABLE_AUX: 0xa8,
  TEST_AUX: 0xa9,
  SELF_TEST: 0xaa,
  TEST_KBD: 0xab,
  DISABLE_KBD: 0xad,
  ENABLE_KBD: 0xae,
  READ_INPUT: 0xc0,
  READ_OUTPORT: 0xd0,
  WRITE_OUTPORT: 0xd1,
  WRITE_KBD_OUTPUT: 0xd2,
  WRITE_AUX_OUTPUT: 0xd3,
  WRITE_AUX: 0xd4,
} as const;

/** Responses waiting on port 0x60; a guest that never reads them cannot grow this past the limit. */
const OUTPUT_LIMIT = 16;
const AUX = 0x100;
const NO_COMMAND = -1;

/** Int32 cells of the shared state; the output queue (OUTPUT_LIMIT values, AUX-flagged) follows. */
const S = { LAST: 0, STATUS: 1, CTR: 2, OUTPORT: 3, PENDING: 4, OUT_HEAD: 5, OUT_LENGTH: 6 } as const;
const CELLS = 8;

/** The controller's state lives in a SharedArrayBuffer (`state`), shared by the vCPU threads. */
export class I8042 {
  static readonly STATE_BYTES = (CELLS + OUTPUT_LIMIT) * 4;
  private readonly s: Int32Array;
  private readonly output: Int32Array;

  constructor(
    private readonly onReset: (command: number) => void,
    readonly state: SharedArrayBuffer = I8042.initialState(),
  ) {
    this.s = new Int32Array(state, 0, CELLS);
    this.output = new Int32Array(state, CELLS * 4, OUTPUT_LIMIT);
  }

  static initialState(): SharedArrayBuffer {
    const state = new SharedArrayBuffer(I8042.STATE_BYTES);
    const s = new Int32Array(state, 0, CELLS);
    s[S.STATUS] = STATUS_CMD | STATUS_UNLOCKED;
    s[S.CTR] = CTR_RESET;
    s[S.OUTPORT] = OUTPORT_RESET_VALUE;
    s[S.PENDING] = NO_COMMAND;
    return state;
  }

  private get status(): number {
    return this.s[S.STATUS]!;
  }
  private set status(v: number) {
    this.s[S.STATUS] = v;
  }
  private get ctr(): number {
    return this.s[S.CTR]!;
  }
  private set ctr(v: number) {
    this.s[S.CTR] = v;
  }
  private get outport(): number {
    return this.s[S.OUTPORT]!;
  }
  private set outport(v: number) {
    this.s[S.OUTPORT] = v;
  }
  private get pending(): number | undefined {
    return this.s[S.PENDING] === NO_COMMAND ? undefined : this.s[S.PENDING];
  }
  private set pending(v: number | undefined) {
    this.s[S.PENDING] = v ?? NO_COMMAND;
  }

  private head(): number | undefined {
    return this.s[S.OUT_LENGTH] === 0 ? undefined : this.output[this.s[S.OUT_HEAD]!];
  }

  /** Port 0x60. */
  readonly dataPort: PioDevice = {
    read: () => this.readData(),
    write: (_offset, _size, value) => this.writeData(value & 0xff),
    reset: () => this.reset(),
  };

  /** Port 0x64: status on read, command on write. */
  readonly commandPort: PioDevice = {
    read: () => this.readStatus(),
    write: (_offset, _size, value) => this.command(value & 0xff),
  };

  private reset(): void {
    this.s.set(new Int32Array(I8042.initialState(), 0, CELLS));
  }

  private readStatus(): number {
    const head = this.head();
    return this.status | (head !== undefined ? STATUS_OBF | (head & AUX ? STATUS_AUX_OBF : 0) : 0);
  }

  private readData(): number {
    const head = this.head();
    if (head !== undefined) {
      this.s[S.LAST] = head & 0xff;
      this.s[S.OUT_HEAD] = (this.s[S.OUT_HEAD]! + 1) % OUTPUT_LIMIT;
      this.s[S.OUT_LENGTH]!--;
    }
    return this.s[S.LAST]!;
  }

  private respond(value: number, aux = false): void {
    const length = this.s[S.OUT_LENGTH]!;
    if (length >= OUTPUT_LIMIT) return;
    this.output[(this.s[S.OUT_HEAD]! + length) % OUTPUT_LIMIT] = value | (aux ? AUX : 0);
    this.s[S.OUT_LENGTH] = length + 1;
  }

  private command(cmd: number): void {
    this.status |= STATUS_CMD;
    this.pending = undefined;
    switch (cmd) {
      case CMD.READ_CTR:
        return this.respond(this.ctr);
      case CMD.WRITE_CTR:
      case CMD.WRITE_OUTPORT:
      case CMD.WRITE_KBD_OUTPUT:
      case CMD.WRITE_AUX_OUTPUT:
      case CMD.WRITE_AUX:
        this.pending = cmd;
        return;
      case CMD.DISABLE_AUX:
        this.ctr |= CTR_AUX_DISABLED;
        return;
      case CMD.ENABLE_AUX:
        this.ctr &= ~CTR_AUX_DISABLED;
        return;
      case CMD.TEST_AUX:
      case CMD.TEST_KBD:
        return this.respond(0x00);
      case CMD.SELF_TEST:
        this.status |= STATUS_SYS;
        return this.respond(0x55);
      case CMD.DISABLE_KBD:
        this.ctr |= CTR_KBD_DISABLED;
        return;
      case CMD.ENABLE_KBD:
        this.ctr &= ~CTR_KBD_DISABLED;
        return;
      case CMD.READ_INPUT:
        return this.respond(0x00);
      case CMD.READ_OUTPORT:
        return this.respond(this.outport);
      default:
        // 0xf0-0xff pulse output port bits 3:0 low; bit 0 is the CPU reset line.
        if (cmd >= 0xf0 && (cmd & OUTPORT_RESET) === 0) this.onReset(cmd);
    }
  }

  private writeData(value: number): void {
    this.status &= ~STATUS_CMD;
    const cmd = this.pending;
    this.pending = undefined;
    switch (cmd) {
      case CMD.WRITE_CTR:
        this.ctr = value;
        return;
      case CMD.WRITE_OUTPORT:
        this.outport = value;
        if ((value & OUTPORT_RESET) === 0) this.onReset(CMD.WRITE_OUTPORT);
        return;
      case CMD.WRITE_KBD_OUTPUT:
        return this.respond(value);
      case CMD.WRITE_AUX_OUTPUT:
        return this.respond(value, true);
      default:
        // A byte for the keyboard (or, after 0xd4, the mouse): nothing is attached to answer it.
        return;
    }
  }
}
