/**
 * QEMU's isa-debug-exit as test guests configure it (`iobase=0xf4,iosize=0x04`): a write of
 * `value` (1 to 4 bytes) ends the VM with exit status (value << 1) | 1, so a guest can never
 * report 0 and be mistaken for a clean shutdown.
 */
import { allOnes, type PioDevice } from './bus.js';

export const DEBUG_EXIT_BASE = 0xf4;
export const DEBUG_EXIT_PORTS = 4;

/** The process exit status QEMU produces for a written value (its low 8 bits, as exit() keeps). */
export function debugExitStatus(value: number): number {
  return (((value & 0x7f) << 1) | 1) & 0xff;
}

export class DebugExit implements PioDevice {
  constructor(private readonly onExit: (status: number, value: number) => void) {}

  read(_offset: number, size: number): number {
    return allOnes(size);
  }

  write(_offset: number, _size: number, value: number): void {
    this.onExit(debugExitStatus(value), value >>> 0);
  }
}
