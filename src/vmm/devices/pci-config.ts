/**
 * PCI configuration mechanism #1 with no devices behind it: the CONFIG_ADDRESS latch at 0xcf8
 * (dword accesses only, as QEMU) and CONFIG_DATA at 0xcfc-0xcff, whose reads are all ones, the
 * answer of an empty slot. A guest probing PCI finds nothing. 0xcf9 (byte) is the reset control
 * register, a separate device.
 */
import { allOnes, type PioDevice } from './bus.js';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
export const PCI_CONFIG_DATA_PORTS = 4;

/** CONFIG_ADDRESS lives in a SharedArrayBuffer (`state`), shared by the vCPU threads. */
export class PciConfig {
  static readonly STATE_BYTES = 4;
  private readonly cell: Uint32Array;

  constructor(readonly state: SharedArrayBuffer = new SharedArrayBuffer(PciConfig.STATE_BYTES)) {
    this.cell = new Uint32Array(state, 0, 1);
  }

  private get address(): number {
    return this.cell[0]!;
  }
  private set address(v: number) {
    this.cell[0] = v;
  }

  /** CONFIG_ADDRESS, to be mapped at 0xcf8 (one port: 0xcf9 belongs to reset control). */
  readonly addressPort: PioDevice = {
    read: (_offset, size) => (size === 4 ? this.address : allOnes(size)),
    write: (_offset, size, value) => {
      if (size === 4) this.address = value >>> 0;
    },
    reset: () => {
      this.address = 0;
    },
  };

  /** CONFIG_DATA, to be mapped at 0xcfc-0xcff. */
  readonly dataPort: PioDevice = {
    read: (_offset, size) => allOnes(size),
    write: () => undefined,
  };

  /** The latched CONFIG_ADDRESS (bus/device/function/register of the next data access). */
  get configAddress(): number {
    return this.address;
  }
}
