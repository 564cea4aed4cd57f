/**
 * ELF64 little-endian x86-64 reading for `igvm build`: the PT_LOAD segments (loaded at their
 * physical addresses) and the symbol table. Every offset and size is checked against the file.
 */
import { InputFileError } from './input-error.js';
import { defineStruct } from '../format/index.js';

const ElfHeader = defineStruct('Elf64_Ehdr', 64, [
  { name: 'ident', offset: 0, kind: { bytes: 16 } },
  { name: 'type', offset: 16, kind: 'u16' },
  { name: 'machine', offset: 18, kind: 'u16' },
  { name: 'version', offset: 20, kind: 'u32' },
  { name: 'entry', offset: 24, kind: 'u64' },
  { name: 'phoff', offset: 32, kind: 'u64' },
  { name: 'shoff', offset: 40, kind: 'u64' },
  { name: 'flags', offset: 48, kind: 'u32' },
  { name: 'ehsize', offset: 52, kind: 'u16' },
  { name: 'phentsize', offset: 54, kind: 'u16' },
  { name: 'phnum', offset: 56, kind: 'u16' },
  { name: 'shentsize', offset: 58, kind: 'u16' },
  { name: 'shnum', offset: 60, kind: 'u16' },
  { name: 'shstrndx', offset: 62, kind: 'u16' },
] as const);

const ProgramHeader = defineStruct('Elf64_Phdr', 56, [
  { name: 'type', offset: 0, kind: 'u32' },
  { name: 'flags', offset: 4, kind: 'u32' },
  { name: 'offset', offset: 8, kind: 'u64' },
  { name: 'vaddr', offset: 16, kind: 'u64' },
  { name: 'paddr', offset: 24, kind: 'u64' },
  { name: 'filesz', offset: 32, kind: 'u64' },
  { name: 'memsz', offset: 40, kind: 'u64' },
  { name: 'align', offset: 48, kind: 'u64' },
] as const);

const SectionHeader = defineStruct('Elf64_Shdr', 64, [
  { name: 'name', offset: 0, kind: 'u32' },
  { name: 'type', offset: 4, kind: 'u32' },
  { name: 'flags', offset: 8, kind: 'u64' },
  { name: 'addr', offset: 16, kind: 'u64' },
  { name: 'offset', offset: 24, kind: 'u64' },
  { name: 'size', offset: 32, kind: 'u64' },
  { name: 'link', offset: 40, kind: 'u32' },
  { name: 'info', offset: 44, kind: 'u32' },
  { name: 'addralign', offset: 48, kind: 'u64' },
  { name: 'entsize', offset: 56, kind: 'u64' },
] as const);

const Symbol64 = defineStruct('Elf64_Sym', 24, [
  { name: 'name', offset: 0, kind: 'u32' },
  { name: 'info', offset: 4, kind: 'u8' },
  { name: 'other', offset: 5, kind: 'u8' },
  { name: 'shndx', offset: 6, kind: 'u16' },
  { name: 'value', offset: 8, kind: 'u64' },
  { name: 'size', offset: 16, kind: 'u64' },
] as const);

const EM_X86_64 = 62;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;


export interface ElfSegment {
  /** Physical load address (p_paddr). */
  readonly gpa: bigint;
  /** File bytes (a view into the input). */
  readonly data: Uint8Array;
  /** Bytes in memory; the part past `data` is zero-filled. */
  readonly memorySize: bigint;
}

export interface ElfImage {
  readonly entry: bigint;
  readonly segments: readonly ElfSegment[];
  readonly symbols: ReadonlyMap<string, bigint>;
}

function range(name: string, bytes: Uint8Array, offset: bigint, size: bigint, at: number, what: string): [number, number] {
  if (offset + size > BigInt(bytes.length)) {
    throw new InputFileError(name, at, `${what} (${size} bytes at 0x${offset.toString(16)}) runs past the end of the file (${bytes.length} bytes)`);
  }
  return [Number(offset), Number(offset + size)];
}

function cString(bytes: Uint8Array, start: number): string {
  let end = start;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/** Read an x86-64 ELF64 executable; `name` is used in error messages. */
export function readElf(bytes: Uint8Array, name: string): ElfImage {
  if (bytes.length < ElfHeader.size) throw new InputFileError(name, 0, `too short for an ELF header (${bytes.length} bytes)`);
  const h = ElfHeader.read(bytes);
  if (h.ident[0] !== 0x7f || h.ident[1] !== 0x45 || h.ident[2] !== 0x4c || h.ident[3] !== 0x46) {
    throw new InputFileError(name, 0, 'not an ELF file (bad magic)');
  }
  if (h.ident[4] !== 2) throw new InputFileError(name, 4, 'not a 64-bit ELF file (EI_CLASS is not ELFCLASS64)');
  if (h.ident[5] !== 1) throw new InputFileError(name, 5, 'not a little-endian ELF file');
  if (h.machine !== EM_X86_64) throw new InputFileError(name, 18, `not an x86-64 ELF file (e_machine ${h.machine})`);
  if (h.phnum > 0 && h.phentsize !== ProgramHeader.size) {
    throw new InputFileError(name, 54, `unexpected program header size ${h.phentsize}`);
  }

  const segments: ElfSegment[] = [];
  const [phStart] = range(name, bytes, h.phoff, BigInt(h.phnum) * BigInt(ProgramHeader.size), 32, 'the program header table');
  for (let i = 0; i < h.phnum; i++) {
    const at = phStart + i * ProgramHeader.size;
    const p = ProgramHeader.read(bytes, at);
    if (p.type !== PT_LOAD) continue;
    if (p.filesz > p.memsz) throw new InputFileError(name, at + 32, `PT_LOAD segment ${i} has p_filesz larger than p_memsz`);
    const [start, end] = range(name, bytes, p.offset, p.filesz, at + 8, `PT_LOAD segment ${i}`);
    segments.push({ gpa: p.paddr, data: bytes.subarray(start, end), memorySize: p.memsz });
  }
  if (segments.length === 0) throw new InputFileError(name, Number(h.phoff), 'has no PT_LOAD segment');
  return { entry: h.entry, segments, symbols: readSymbols(bytes, name, h.shoff, h.shnum, h.shentsize) };
}

function readSymbols(bytes: Uint8Array, name: string, shoff: bigint, shnum: number, shentsize: number): Map<string, bigint> {
  const symbols = new Map<string, bigint>();
  if (shnum === 0 || shoff === 0n) return symbols;
  if (shentsize !== SectionHeader.size) throw new InputFileError(name, 58, `unexpected section header size ${shentsize}`);
  const [shStart] = range(name, bytes, shoff, BigInt(shnum) * BigInt(SectionHeader.size), 40, 'the section header table');
  for (let i = 0; i < shnum; i++) {
    const s = SectionHeader.read(bytes, shStart + i * SectionHeader.size);
    if (s.type !== SHT_SYMTAB) continue;
    if (s.link >= shnum) throw new InputFileError(name, shStart + i * SectionHeader.size + 40, `symbol table ${i} links to a missing string table`);
    const strtab = SectionHeader.read(bytes, shStart + s.link * SectionHeader.size);
    const [symStart, symEnd] = range(name, bytes, s.offset, s.size, shStart + i * SectionHeader.size + 24, `symbol table ${i}`);
    const [strStart, strEnd] = range(name, bytes, strtab.offset, strtab.size, shStart + s.link * SectionHeader.size + 24, 'the string table');
    const strings = bytes.subarray(strStart, strEnd);
    for (let at = symStart; at + Symbol64.size <= symEnd; at += Symbol64.size) {
      const sym = Symbol64.read(bytes, at);
      if (sym.name === 0 || sym.name >= strings.length) continue;
      symbols.set(cString(strings, sym.name), sym.value);
    }
  }
  return symbols;
}
