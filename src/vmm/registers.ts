/** A vCPU's registers as text for error reports, in the spirit of QEMU's `info registers`. */
import type { KvmRegs, KvmSegment } from './kvm/abi.js';
import { SEGMENT_ORDER } from '../arch/x86/boot-state.js';
import type { KvmSregs } from './kvm/codecs.js';

const h64 = (v: bigint) => v.toString(16).padStart(16, '0');
const h32 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
const h16 = (v: number) => v.toString(16).padStart(4, '0');

function segment(name: string, s: KvmSegment): string {
  const flags = [
    `type=${s.type.toString(16)}`,
    `s=${s.s}`,
    `dpl=${s.dpl}`,
    `p=${s.present}`,
    `db=${s.db}`,
    `l=${s.l}`,
    `g=${s.g}`,
    ...(s.unusable ? ['unusable'] : []),
  ].join(' ');
  return `${name.toUpperCase().padEnd(3)}=${h16(s.selector)} base=${h64(s.base)} limit=${h32(s.limit)} ${flags}`;
}

export function formatRegisters(regs: KvmRegs, sregs: KvmSregs): string {
  const gpr = (names: readonly (keyof KvmRegs)[]) => names.map((n) => `${n.toUpperCase().padEnd(3)}=${h64(regs[n])}`).join(' ');
  return [
    gpr(['rax', 'rbx', 'rcx', 'rdx']),
    gpr(['rsi', 'rdi', 'rbp', 'rsp']),
    gpr(['r8', 'r9', 'r10', 'r11']),
    gpr(['r12', 'r13', 'r14', 'r15']),
    `RIP=${h64(regs.rip)} RFL=${h64(regs.rflags)}`,
    ...SEGMENT_ORDER.map((name) => segment(name, sregs.segments[name])),
    `GDT=base=${h64(sregs.gdt.base)} limit=${h16(sregs.gdt.limit)} IDT=base=${h64(sregs.idt.base)} limit=${h16(sregs.idt.limit)}`,
    `CR0=${h64(sregs.cr0)} CR2=${h64(sregs.cr2)} CR3=${h64(sregs.cr3)} CR4=${h64(sregs.cr4)}`,
    `CR8=${h64(sregs.cr8)} EFER=${h64(sregs.efer)} APIC_BASE=${h64(sregs.apic_base)}`,
  ].join('\n');
}
