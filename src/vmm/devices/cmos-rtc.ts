/**
 * The MC146818 CMOS real-time clock at ports 0x70 (index; bit 7 masks NMI) and 0x71 (data), as on
 * every PC and QEMU's q35: the time of day from the host's UTC clock, BCD or binary and 24- or
 * 12-hour as register B selects, the century in CMOS byte 0x32, and 114 bytes of CMOS RAM that
 * survive a reset. Guests may set the clock; the difference to the host clock is kept. Without it,
 * Linux polls absent hardware thousands of times and warns that the RTC is not accessible.
 *
 * No interrupts (IRQ 8): periodic, alarm and update-ended flags never rise, so register C reads 0.
 * Updates are instantaneous (UIP is never set).
 */
import type { PioDevice } from './bus.js';

export const RTC_INDEX_PORT = 0x70;
export const RTC_DATA_PORT = 0x71;

const SECONDS = 0x00;
const MINUTES = 0x02;
const HOURS = 0x04;
const DAY_OF_WEEK = 0x06;
const DAY_OF_MONTH = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const CENTURY = 0x32;
const CMOS_SIZE = 128;

/** Register A: 32.768 kHz time base, 1024 Hz periodic rate (the power-on value QEMU uses). */
const REG_A_DEFAULT = 0x26;
const B_INTERRUPT_ENABLES = 0x70;
const B_BINARY = 0x04;
const B_24_HOUR = 0x02;
/** Register D: valid RAM and time (the battery is good). */
const REG_D_VALID = 0x80;

const toBcd = (v: number) => ((Math.floor(v / 10) << 4) | (v % 10)) & 0xff;
const fromBcd = (v: number) => (v >> 4) * 10 + (v & 0x0f);

interface Fields {
  sec: number;
  min: number;
  hour: number;
  day: number;
  month: number;
  year: number;
}

/** Shared state: the guest-minus-host clock offset (ms, a float64), the index register, then CMOS RAM. */
const OFFSET_AT = 0;
const INDEX_AT = 8;
const RAM_AT = 16;

/** The clock's state lives in a SharedArrayBuffer (`state`), shared by the vCPU threads. */
export class CmosRtc {
  static readonly STATE_BYTES = RAM_AT + CMOS_SIZE;
  private readonly ram: Uint8Array;
  private readonly offset: Float64Array;
  private readonly indexCell: Int32Array;

  private get index(): number {
    return this.indexCell[0]!;
  }
  private set index(v: number) {
    this.indexCell[0] = v;
  }
  /** Guest time minus host time, in milliseconds. */
  private get offsetMs(): number {
    return this.offset[0]!;
  }
  private set offsetMs(v: number) {
    this.offset[0] = v;
  }

  readonly indexPort: PioDevice = {
    read: () => 0xff,
    write: (_offset, _size, value) => {
      this.index = value & 0x7f;
    },
  };

  readonly dataPort: PioDevice = {
    read: () => this.read(this.index),
    write: (_offset, _size, value) => this.write(this.index, value & 0xff),
    reset: () => this.reset(),
  };

  constructor(
    private readonly now: () => number = Date.now,
    readonly state: SharedArrayBuffer = CmosRtc.initialState(),
  ) {
    this.offset = new Float64Array(state, OFFSET_AT, 1);
    this.indexCell = new Int32Array(state, INDEX_AT, 1);
    this.ram = new Uint8Array(state, RAM_AT, CMOS_SIZE);
  }

  static initialState(): SharedArrayBuffer {
    const state = new SharedArrayBuffer(CmosRtc.STATE_BYTES);
    const ram = new Uint8Array(state, RAM_AT, CMOS_SIZE);
    ram[REG_A] = REG_A_DEFAULT;
    ram[REG_B] = B_24_HOUR;
    ram[REG_D] = REG_D_VALID;
    return state;
  }

  /** A system reset masks the RTC's interrupts, as the chip's reset line does; time and RAM stay. */
  reset(): void {
    this.ram[REG_B] = this.ram[REG_B]! & ~B_INTERRUPT_ENABLES;
    this.index = 0;
  }

  private read(index: number): number {
    switch (index) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        return this.timeRegister(index, new Date(this.now() + this.offsetMs));
      case REG_C:
        return 0;
      case REG_D:
        return REG_D_VALID;
      default:
        return this.ram[index]!;
    }
  }

  private write(index: number, value: number): void {
    switch (index) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        this.setTimeRegister(index, value);
        return;
      case REG_A:
        this.ram[REG_A] = value & 0x7f; // UIP is read-only
        return;
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.ram[index] = value; // register B, the alarms, CMOS RAM (the day of the week is derived from the date)
    }
  }

  private get binary(): boolean {
    return (this.ram[REG_B]! & B_BINARY) !== 0;
  }

  private encode(v: number): number {
    return this.binary ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.binary ? v : fromBcd(v);
  }

  private timeRegister(index: number, t: Date): number {
    switch (index) {
      case SECONDS:
        return this.encode(t.getUTCSeconds());
      case MINUTES:
        return this.encode(t.getUTCMinutes());
      case HOURS:
        return this.encodeHour(t.getUTCHours());
      case DAY_OF_WEEK:
        return this.encode(t.getUTCDay() + 1);
      case DAY_OF_MONTH:
        return this.encode(t.getUTCDate());
      case MONTH:
        return this.encode(t.getUTCMonth() + 1);
      case YEAR:
        return this.encode(t.getUTCFullYear() % 100);
      default:
        return this.encode(Math.floor(t.getUTCFullYear() / 100));
    }
  }

  private encodeHour(hour: number): number {
    if (this.ram[REG_B]! & B_24_HOUR) return this.encode(hour);
    const pm = hour >= 12 ? 0x80 : 0;
    return this.encode(hour % 12 === 0 ? 12 : hour % 12) | pm;
  }

  private decodeHour(value: number): number {
    if (this.ram[REG_B]! & B_24_HOUR) return this.decode(value);
    const h = this.decode(value & 0x7f) % 12;
    return value & 0x80 ? h + 12 : h;
  }

  /** Setting one field moves the clock so that it reads the new value; the others keep theirs. */
  private setTimeRegister(index: number, value: number): void {
    const t = new Date(this.now() + this.offsetMs);
    const f: Fields = {
      sec: t.getUTCSeconds(),
      min: t.getUTCMinutes(),
      hour: t.getUTCHours(),
      day: t.getUTCDate(),
      month: t.getUTCMonth() + 1,
      year: t.getUTCFullYear(),
    };
    const v = this.decode(value);
    if (index === SECONDS) f.sec = v;
    else if (index === MINUTES) f.min = v;
    else if (index === HOURS) f.hour = this.decodeHour(value);
    else if (index === DAY_OF_MONTH) f.day = v;
    else if (index === MONTH) f.month = v;
    else if (index === YEAR) f.year = f.year - (f.year % 100) + v;
    else f.year = v * 100 + (f.year % 100);
    const wanted = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.min, f.sec, t.getUTCMilliseconds());
    if (Number.isFinite(wanted)) this.offsetMs = wanted - this.now();
  }
}
