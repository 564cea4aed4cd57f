// Tiny 64-bit IGVM guests for the run benchmarks (the same file boots under igvm run and QEMU),
// and the peers' commands: QEMU 10.2.2 with IGVM from ../shared/tools/qemu where present.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { longMode64Context } from '../dist/arch/x86/native-context.js';
import { identityPageTables } from '../dist/build/long-mode.js';
import { IgvmBuilder } from '../dist/format/index.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const benchDir = path.join(root, 'build', 'bench');
export const cli = path.join(root, 'dist', 'cli', 'main.js');
export const QEMU_DIR = path.resolve(root, '../shared/tools/qemu');
const qemuBinary = path.join(QEMU_DIR, 'qemu-system-x86_64');

const ENTRY = 0x10_0000n;
const u32 = (v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** mov dx, 0xf4; xor eax, eax; out dx, eax; hlt: isa-debug-exit with 0 (exit status 1). */
const EXIT = [0x66, 0xba, 0xf4, 0x00, 0x31, 0xc0, 0xef, 0xf4];

/** Write a 64-bit guest (`code` at 1 MiB, identity-mapped first GiB, extra pages) to build/bench/NAME.igvm. */
export function writeGuest(name, code, pages = []) {
  const b = new IgvmBuilder();
  b.addPlatform('NATIVE');
  b.addPageData(ENTRY, Uint8Array.from(code));
  for (const [gpa, bytes] of pages) b.addPageData(gpa, bytes);
  const tables = identityPageTables({ base: 0x3000n, mapSize: 1n << 30n });
  b.addPageData(0x3000n, tables.bytes);
  b.setNativeContext(longMode64Context({ entry: ENTRY, stack: 0x8_0000n, gdtrBase: 0n, gdtrLimit: 0, cr3: tables.cr3 }));
  mkdirSync(benchDir, { recursive: true });
  const file = path.join(benchDir, `${name}.igvm`);
  writeFileSync(file, b.serialize());
  return file;
}

/** `n` x `out %al, $0x80` (an unclaimed port), then isa-debug-exit. */
export function outLoopGuest(n) {
  // mov ecx, n; mov dx, 0x80; 1: out dx, al; dec ecx; jnz 1b  (n = 0: no loop)
  const loop = n > 0 ? [0xb9, ...u32(n), 0x66, 0xba, 0x80, 0x00, 0xee, 0xff, 0xc9, 0x75, 0xfb] : [];
  return writeGuest(`out-loop-${n}`, [...loop, ...EXIT]);
}

/** `pages` x 4 KiB to COM1 with rep outsb (one exit per page under KVM), then isa-debug-exit. */
export function consoleGuest(pages) {
  const BUF = 0x20_0000;
  // mov ebx, pages; 1: mov esi, BUF; mov ecx, 4096; mov dx, 0x3f8; rep outsb; dec ebx; jnz 1b
  const code = [0xbb, ...u32(pages), 0xbe, ...u32(BUF), 0xb9, ...u32(4096), 0x66, 0xba, 0xf8, 0x03, 0xf3, 0x6e, 0xff, 0xcb, 0x75, 0xeb];
  const line = new TextEncoder().encode(`${'x'.repeat(63)}\n`);
  const buf = new Uint8Array(4096).map((_, i) => line[i % 64]);
  return writeGuest(`console-${pages}`, [...(pages > 0 ? code : []), ...EXIT], [[BigInt(BUF), buf]]);
}

/** Why QEMU 10.2.2 cannot run here, or undefined. */
export function qemuSkipReason() {
  if (!existsSync(qemuBinary)) return `${qemuBinary} is missing (../shared/tools is not part of a clone)`;
  return undefined;
}

/** QEMU booting `file` natively on KVM, COM1 to `serial` (a path). */
export function qemuCommand(file, serial) {
  return [
    qemuBinary,
    ['-L', path.join(QEMU_DIR, 'share'), '-nodefaults', '-display', 'none', '-monitor', 'none', '-m', '256M', '-serial', `file:${serial}`,
      '-machine', 'q35,igvm-cfg=igvm0,accel=kvm', '-object', `igvm-cfg,id=igvm0,file=${file}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
  ];
}
