/**
 * `igvm build linux`: a native-mode IGVM file that boots a stock x86-64 kernel through the Linux
 * 64-bit boot protocol. A boot shim (guests/linux/shim.S) runs first from the native context, turns
 * the IGVM memory-map and VP-count parameters (filled by the loader at boot) into the e820 table and
 * an MP table, and jumps to the kernel with %rsi = boot_params. Everything else is decided here, at
 * build time: the setup header, command line and initrd in boot_params, and where things live.
 *
 * By default the bzImage payload is decompressed here and the kernel ELF (vmlinux) is loaded at its
 * physical addresses and entered at its ELF entry, as Firecracker does: no decompressor runs at boot.
 * `compressed` keeps the bzImage's protected-mode part and enters its 64-bit entry (load + 0x200).
 *
 * The file holds only headers QEMU's native mode accepts (SUPPORTED_PLATFORM, PAGE_DATA, VP_CONTEXT,
 * PARAMETER_AREA, PARAMETER_INSERT, MEMORY_MAP, VP_COUNT_PARAMETER): no MADT, no COMMAND_LINE.
 */
import { longMode64Context } from '../../arch/x86/native-context.js';
import { IgvmBuilder } from '../../format/index.js';
import { readElf } from '../elf.js';
import { addBootParameters, BOOT_PARAMETERS } from '../boot-parameters.js';
import { LOADER_NAMES } from '../../loader/index.js';
import { checkBuiltFile } from '../loader-check.js';
import { identityPageTables } from '../long-mode.js';
import { putBytes, sortedPages, type Pages } from '../pages.js';
import { assembleGuest } from '../toolchain.js';
import { readBzImage, type Compression } from './bzimage.js';
import { InputFileError } from '../input-error.js';
import { decompressKernel } from './decompress.js';

export const LINUX_LAYOUT = {
  pageTables: 0x1000n,
  gdt: 0x7000n,
  bootParams: 0x8000n,
  /** The memory-map page, then the VP-count page (boot-parameters.ts). */
  parameters: 0xc000n,
  cmdline: 0x2_0000n,
  stack: 0x8_0000n,
  /** The MP floating pointer goes in the last KiB of base memory, where Linux looks for it. */
  mpTable: 0x9_fc00n,
  shim: 0x10_0000n,
} as const;

/** Offsets from LINUX_LAYOUT.parameters, as guests/linux/shim.S reads them. */
export const LINUX_PARAMETERS = BOOT_PARAMETERS;

/** The Linux boot protocol's GDT: __BOOT_CS = 0x10 (64-bit code), __BOOT_DS = 0x18. */
const BOOT_CS = 0x10;
const BOOT_DS = 0x18;

const BP = {
  extRamdiskImage: 0x0c0,
  extRamdiskSize: 0x0c4,
  extCmdLinePtr: 0x0c8,
  setupHeader: 0x1f1,
  vidMode: 0x1fa,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  cmdLinePtr: 0x228,
} as const;

const TWO_MIB = 2n << 20n;

export interface LinuxBuildOptions {
  readonly kernel: Uint8Array;
  readonly kernelName: string;
  readonly initrd?: Uint8Array;
  readonly cmdline?: string;
  readonly compressed?: boolean;
}

export interface LinuxBuildSummary {
  readonly protocol: string;
  readonly compression: Compression;
  readonly mode: 'uncompressed' | 'compressed';
  readonly kernel: { readonly gpa: bigint; readonly end: bigint; readonly entry: bigint };
  readonly initrd?: { readonly gpa: bigint; readonly size: bigint };
  readonly cmdline: string;
  /** The least RAM (`igvm run -m`) the kernel and initrd fit in. */
  readonly minimumMemory: bigint;
}

function alignUp(v: bigint, to: bigint): bigint {
  return ((v + to - 1n) / to) * to;
}

function linuxGdt(): Uint8Array {
  const gdt = new Uint8Array(32);
  const dv = new DataView(gdt.buffer);
  dv.setBigUint64(BOOT_CS, 0x00af_9b00_0000_ffffn, true);
  dv.setBigUint64(BOOT_DS, 0x00cf_9300_0000_ffffn, true);
  return gdt;
}

export async function buildLinuxIgvm(options: LinuxBuildOptions): Promise<{ bytes: Uint8Array; summary: LinuxBuildSummary }> {
  const name = options.kernelName;
  const bz = readBzImage(options.kernel, name);
  const h = bz.header;
  const cmdline = options.cmdline ?? '';
  const cmdlineBytes = new TextEncoder().encode(cmdline);
  if (cmdlineBytes.length > h.cmdlineSize || cmdlineBytes.length >= 4096) {
    throw new InputFileError(name, 0x238, `the command line is ${cmdlineBytes.length} bytes; this kernel accepts at most ${h.cmdlineSize}`);
  }

  // The kernel in memory.
  const kernelPages: Pages = new Map();
  let kernelStart: bigint;
  let kernelEnd: bigint;
  let entry: bigint;
  if (options.compressed) {
    kernelStart = h.prefAddress !== 0n ? h.prefAddress : BigInt(h.kernelAlignment);
    putBytes(kernelPages, kernelStart, bz.protectedMode, BigInt(bz.protectedMode.length));
    kernelEnd = kernelStart + BigInt(h.initSize);
    entry = kernelStart + 0x200n;
  } else {
    const vmlinux = await decompressKernel(bz.payload, bz.compression, name);
    const elf = readElf(vmlinux, `${name} (decompressed vmlinux)`);
    kernelStart = elf.segments.reduce((m, s) => (s.gpa < m ? s.gpa : m), elf.segments[0]!.gpa);
    kernelEnd = 0n;
    for (const seg of elf.segments) {
      putBytes(kernelPages, seg.gpa, seg.data, seg.memorySize);
      if (seg.gpa + seg.memorySize > kernelEnd) kernelEnd = seg.gpa + seg.memorySize;
    }
    if (kernelStart + BigInt(h.initSize) > kernelEnd) kernelEnd = kernelStart + BigInt(h.initSize);
    entry = elf.entry;
  }
  if (kernelStart < LINUX_LAYOUT.shim + 0x10_0000n) {
    throw new InputFileError(name, 0x258, `the kernel loads at 0x${kernelStart.toString(16)}, below 2 MiB, where the boot structures live`);
  }

  // boot_params: the kernel's setup header, then what the loader decides.
  const bootParams = new Uint8Array(4096);
  bootParams.set(bz.headerBytes, BP.setupHeader);
  const bp = new DataView(bootParams.buffer);
  bp.setUint16(BP.vidMode, 0xffff, true);
  bp.setUint8(BP.typeOfLoader, 0xff);
  bp.setUint32(BP.cmdLinePtr, Number(LINUX_LAYOUT.cmdline), true);
  bp.setUint32(BP.extCmdLinePtr, 0, true);
  if (options.compressed) bp.setUint32(BP.code32Start, Number(kernelStart), true);

  let initrd: { gpa: bigint; size: bigint } | undefined;
  let memoryEnd = alignUp(kernelEnd, TWO_MIB);
  if (options.initrd && options.initrd.length > 0) {
    const gpa = memoryEnd;
    const size = BigInt(options.initrd.length);
    if (gpa + size > BigInt(h.initrdAddrMax) + 1n) {
      throw new InputFileError(name, 0x22c, `the initrd would end at 0x${(gpa + size).toString(16)}, above the kernel's initrd_addr_max`);
    }
    initrd = { gpa, size };
    bp.setUint32(BP.ramdiskImage, Number(gpa & 0xffff_ffffn), true);
    bp.setUint32(BP.ramdiskSize, Number(size & 0xffff_ffffn), true);
    bp.setUint32(BP.extRamdiskImage, Number(gpa >> 32n), true);
    bp.setUint32(BP.extRamdiskSize, Number(size >> 32n), true);
    memoryEnd = alignUp(gpa + size, TWO_MIB);
  }

  // The shim, with its configuration block filled in.
  const shim = await assembleGuest(['linux/shim.S'], { loadAddress: LINUX_LAYOUT.shim });
  const shimBytes = shim.bytes.slice();
  const shimView = new DataView(shimBytes.buffer);
  const configAt = (symbol: string) => Number(shim.symbols.get(symbol)! - LINUX_LAYOUT.shim);
  shimView.setBigUint64(configAt('config_boot_params'), LINUX_LAYOUT.bootParams, true);
  shimView.setBigUint64(configAt('config_kernel_entry'), entry, true);
  shimView.setBigUint64(configAt('config_mp_table'), LINUX_LAYOUT.mpTable, true);

  const b = new IgvmBuilder({ formatVersion: 1 });
  b.addPlatform('NATIVE');
  const tables = identityPageTables({ base: LINUX_LAYOUT.pageTables, pageSize: '2M', mapSize: 4n << 30n });
  b.addPageData(LINUX_LAYOUT.pageTables, tables.bytes);
  const gdt = linuxGdt();
  b.addPageData(LINUX_LAYOUT.gdt, gdt);
  b.addPageData(LINUX_LAYOUT.bootParams, bootParams);
  const cmdlinePage = new Uint8Array(4096);
  cmdlinePage.set(cmdlineBytes);
  b.addPageData(LINUX_LAYOUT.cmdline, cmdlinePage);
  b.addPageData(LINUX_LAYOUT.shim, shimBytes);
  for (const gpa of sortedPages(kernelPages)) b.addPageData(gpa, kernelPages.get(gpa)!);
  if (initrd && options.initrd) b.addPageData(initrd.gpa, options.initrd);

  addBootParameters(b, LINUX_LAYOUT.parameters);
  b.setNativeContext(
    longMode64Context({
      entry: shim.symbols.get('_start')!,
      cr3: tables.cr3,
      gdtrBase: LINUX_LAYOUT.gdt,
      gdtrLimit: gdt.length - 1,
      codeSelector: BOOT_CS,
      dataSelector: BOOT_DS,
      stack: LINUX_LAYOUT.stack,
      rsi: LINUX_LAYOUT.parameters,
    }),
  );
  return {
    bytes: checkBuiltFile(b.serialize(), LOADER_NAMES, `the Linux file for ${name}`),
    summary: {
      protocol: `${h.version >> 8}.${(h.version & 0xff).toString().padStart(2, '0')}`,
      compression: bz.compression,
      mode: options.compressed ? 'compressed' : 'uncompressed',
      kernel: { gpa: kernelStart, end: kernelEnd, entry },
      ...(initrd ? { initrd } : {}),
      cmdline,
      minimumMemory: memoryEnd,
    },
  };
}
