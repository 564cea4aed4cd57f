/**
 * The machine's emulated devices on the port I/O bus, wired to the system requests. The PIC, PIT
 * (with port 0x61), IOAPIC and local APICs are KVM's in-kernel models and never reach this bus.
 */
import { CmosRtc, RTC_DATA_PORT, RTC_INDEX_PORT } from './devices/cmos-rtc.js';
import { DebugExit, DEBUG_EXIT_BASE, DEBUG_EXIT_PORTS } from './devices/debug-exit.js';
import { I8042, I8042_COMMAND_PORT, I8042_DATA_PORT } from './devices/i8042.js';
import { PciConfig, PCI_CONFIG_ADDRESS, PCI_CONFIG_DATA, PCI_CONFIG_DATA_PORTS } from './devices/pci-config.js';
import { PioBus } from './devices/pio-bus.js';
import { ResetControl, RESET_CONTROL_PORT } from './devices/reset-control.js';
import { COM1_BASE, COM1_IRQ, Uart16550, UART_PORTS } from './devices/uart16550.js';
import type { SystemRequests } from './exit-dispatch.js';

export interface Platform {
  readonly bus: PioBus;
  readonly uart: Uart16550;
}

export interface PlatformWiring {
  readonly requests: SystemRequests;
  /** A byte the guest wrote to COM1. */
  readonly serialOut: (byte: number) => void;
  /** Drive an ISA interrupt line. */
  readonly irqLine: (irq: number, level: boolean) => void;
}

const hex = (v: number) => `0x${v.toString(16)}`;

export function createPlatform(w: PlatformWiring): Platform {
  const bus = new PioBus();
  const uart = new Uart16550({ transmit: w.serialOut, setIrq: (level) => w.irqLine(COM1_IRQ, level) });
  bus.register(COM1_BASE, UART_PORTS, 'com1', uart);

  const debugExit = new DebugExit((status, value) =>
    w.requests.exit(status, `the guest wrote ${hex(value)} to isa-debug-exit (port ${hex(DEBUG_EXIT_BASE)}): exit status ${status}`),
  );
  bus.register(DEBUG_EXIT_BASE, DEBUG_EXIT_PORTS, 'isa-debug-exit', debugExit);

  const i8042 = new I8042((command) => w.requests.reset(`i8042 reset (command ${hex(command)} on port ${hex(I8042_COMMAND_PORT)})`));
  bus.register(I8042_DATA_PORT, 1, 'i8042-data', i8042.dataPort);
  bus.register(I8042_COMMAND_PORT, 1, 'i8042-command', i8042.commandPort);

  const rtc = new CmosRtc();
  bus.register(RTC_INDEX_PORT, 1, 'rtc-index', rtc.indexPort);
  bus.register(RTC_DATA_PORT, 1, 'rtc-data', rtc.dataPort);

  const pci = new PciConfig();
  bus.register(PCI_CONFIG_ADDRESS, 1, 'pci-config-address', pci.addressPort);
  bus.register(RESET_CONTROL_PORT, 1, 'reset-control', new ResetControl((value) => w.requests.reset(`reset control register (${hex(value)} to port ${hex(RESET_CONTROL_PORT)})`)));
  bus.register(PCI_CONFIG_DATA, PCI_CONFIG_DATA_PORTS, 'pci-config-data', pci.dataPort);

  return { bus, uart };
}
