/**
 * A bzImage-format test kernel: guests/linux/probe.S linked at 16 MiB as an ELF "vmlinux",
 * gzip-compressed into the payload of a minimal protected-mode part, behind a real-mode setup
 * header with the fields the Linux boot protocol defines. Options break one field at a time.
 */
import { gzipSync } from 'node:zlib';
import { assembleGuest } from '../../src/build/toolchain.js';

export const PROBE_LOAD = 0x100_0000n;

export interface ProbeKernelOptions {
  readonly version?: number;
  readonly relocatable?: boolean;
  readonly kernel64?: boolean;
  readonly bootFlag?: number;
  readonly cmdlineSize?: number;
  /** Replace the payload's compression magic (to test unsupported formats). */
  readonly payload?: Uint8Array;
}

export async function buildProbeKernel(options: ProbeKernelOptions = {}): Promise<{ bzImage: Uint8Array; vmlinux: Uint8Array }> {
  const image = await assembleGuest(['linux/probe.S', 'lib/serial.S'], { loadAddress: PROBE_LOAD });
  const payload = options.payload ?? new Uint8Array(gzipSync(image.elf));
  const setupSects = 1;
  const setup = new Uint8Array((setupSects + 1) * 512);
  const dv = new DataView(setup.buffer);
  const headerEnd = 0x268;
  setup[0x1f1] = setupSects;
  dv.setUint16(0x1fe, options.bootFlag ?? 0xaa55, true);
  setup[0x200] = 0xeb; // jmp short over the header
  setup[0x201] = headerEnd - 0x202;
  dv.setUint32(0x202, 0x5372_6448, true); // "HdrS"
  dv.setUint16(0x206, options.version ?? 0x020f, true);
  setup[0x211] = 0x01; // LOADED_HIGH
  dv.setUint32(0x22c, 0x7fff_ffff, true); // initrd_addr_max
  dv.setUint32(0x230, 0x20_0000, true); // kernel_alignment
  setup[0x234] = options.relocatable === false ? 0 : 1;
  setup[0x235] = 21;
  dv.setUint16(0x236, options.kernel64 === false ? 0 : 0x7f, true);
  dv.setUint32(0x238, options.cmdlineSize ?? 2047, true);
  const prefix = 0x200; // stand-in for the decompressor's code; the 64-bit entry is at +0x200
  dv.setUint32(0x248, prefix, true);
  dv.setUint32(0x24c, payload.length, true);
  dv.setBigUint64(0x258, PROBE_LOAD, true);
  dv.setUint32(0x260, 0x40_0000, true); // init_size
  const protectedMode = new Uint8Array(prefix + payload.length);
  protectedMode.set(payload, prefix);
  const bzImage = new Uint8Array(setup.length + protectedMode.length);
  bzImage.set(setup);
  bzImage.set(protectedMode, setup.length);
  return { bzImage, vmlinux: image.elf };
}
