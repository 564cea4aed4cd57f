/**
 * The chipset's Reset Control Register at port 0xcf9 (ICH9 RST_CNT, as QEMU's q35): writing a value
 * with RST_CPU (bit 2) set resets the system, e.g. 0x06 (hard) or 0x0e (full). SYS_RST (bit 1) and
 * FULL_RST (bit 3) are only latched: here every reset is the same full reset.
 */
import type { PioDevice } from './bus.js';

export const RESET_CONTROL_PORT = 0xcf9;

const RST_CPU = 0x04;
const LATCHED = 0x0a;

/** The latched bits live in a SharedArrayBuffer (`state`), shared by the vCPU threads. */
export class ResetControl implements PioDevice {
  static readonly STATE_BYTES = 4;
  private readonly cell: Int32Array;

  constructor(
    private readonly onReset: (value: number) => void,
    readonly state: SharedArrayBuffer = new SharedArrayBuffer(ResetControl.STATE_BYTES),
  ) {
    this.cell = new Int32Array(state, 0, 1);
  }

  private get value(): number {
    return this.cell[0]!;
  }
  private set value(v: number) {
    this.cell[0] = v;
  }

  read(): number {
    return this.value;
  }

  write(_offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    if (v & RST_CPU) {
      this.onReset(v);
      return;
    }
    this.value = v & LATCHED;
  }

  reset(): void {
    this.value = 0;
  }
}
