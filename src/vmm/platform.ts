/**
 * The machine's emulated devices on the device bus, wired to the system requests. The PIC, PIT
 * (with port 0x61), IOAPIC and local APICs are KVM's in-kernel models and never reach this bus.
 *
 * The devices' state is `PlatformState`, SharedArrayBuffers: each vCPU thread builds a Platform of
 * its own over the same state (and so does the main thread, for console input and resets), and
 * every access holds the one device lock.
 */
import { CmosRtc, RTC_DATA_PORT, RTC_INDEX_PORT } from './devices/cmos-rtc.js';
import { DebugExit, DEBUG_EXIT_BASE, DEBUG_EXIT_PORTS } from './devices/debug-exit.js';
import { I8042, I8042_COMMAND_PORT, I8042_DATA_PORT } from './devices/i8042.js';
import { PciConfig, PCI_CONFIG_ADDRESS, PCI_CONFIG_DATA, PCI_CONFIG_DATA_PORTS } from './devices/pci-config.js';
import { DeviceBus } from './devices/bus.js';
import { ResetControl, RESET_CONTROL_PORT } from './devices/reset-control.js';
import { COM1_BASE, COM1_IRQ, Uart16550, UART_PORTS } from './devices/uart16550.js';
import { DeviceLock } from './devices/device-lock.js';
import type { SystemRequests } from './exit-dispatch.js';

export interface Platform {
  readonly bus: DeviceBus;
  readonly uart: Uart16550;
  /** Held around every device access. */
  readonly lock: DeviceLock;
  /** The shared state, for the Platforms of other threads. */
  readonly state: PlatformState;
}

/** Structured-clonable (SharedArrayBuffers): sent to each vCPU thread. */
export interface PlatformState {
  readonly lock: SharedArrayBuffer;
  readonly uart: SharedArrayBuffer;
  readonly i8042: SharedArrayBuffer;
  readonly rtc: SharedArrayBuffer;
  readonly pci: SharedArrayBuffer;
  readonly resetControl: SharedArrayBuffer;
}

/** Power-on state for a new machine. */
export function createPlatformState(): PlatformState {
  return {
    lock: new DeviceLock().buffer,
    uart: Uart16550.initialState(),
    i8042: I8042.initialState(),
    rtc: CmosRtc.initialState(),
    pci: new SharedArrayBuffer(PciConfig.STATE_BYTES),
    resetControl: new SharedArrayBuffer(ResetControl.STATE_BYTES),
  };
}

export interface PlatformWiring {
  readonly requests: SystemRequests;
  /** A byte the guest wrote to COM1. */
  readonly serialOut: (byte: number) => void;
  /** Drive an ISA interrupt line. */
  readonly irqLine: (irq: number, level: boolean) => void;
}

const hex = (v: number) => `0x${v.toString(16)}`;

export function createPlatform(w: PlatformWiring, state: PlatformState = createPlatformState()): Platform {
  const bus = new DeviceBus();
  const uart = new Uart16550({ transmit: w.serialOut, setIrq: (level) => w.irqLine(COM1_IRQ, level) }, state.uart);
  bus.register(COM1_BASE, UART_PORTS, 'com1', uart);

  const debugExit = new DebugExit((status, value) =>
    w.requests.exit(status, `the guest wrote ${hex(value)} to isa-debug-exit (port ${hex(DEBUG_EXIT_BASE)}): exit status ${status}`),
  );
  bus.register(DEBUG_EXIT_BASE, DEBUG_EXIT_PORTS, 'isa-debug-exit', debugExit);

  const i8042 = new I8042((command) => w.requests.reset(`i8042 reset (command ${hex(command)} on port ${hex(I8042_COMMAND_PORT)})`), state.i8042);
  bus.register(I8042_DATA_PORT, 1, 'i8042-data', i8042.dataPort);
  bus.register(I8042_COMMAND_PORT, 1, 'i8042-command', i8042.commandPort);

  const rtc = new CmosRtc(Date.now, state.rtc);
  bus.register(RTC_INDEX_PORT, 1, 'rtc-index', rtc.indexPort);
  bus.register(RTC_DATA_PORT, 1, 'rtc-data', rtc.dataPort);

  const pci = new PciConfig(state.pci);
  bus.register(PCI_CONFIG_ADDRESS, 1, 'pci-config-address', pci.addressPort);
  bus.register(RESET_CONTROL_PORT, 1, 'reset-control', new ResetControl((value) => w.requests.reset(`reset control register (${hex(value)} to port ${hex(RESET_CONTROL_PORT)})`), state.resetControl));
  bus.register(PCI_CONFIG_DATA, PCI_CONFIG_DATA_PORTS, 'pci-config-data', pci.dataPort);

  return { bus, uart, lock: new DeviceLock(state.lock), state };
}
