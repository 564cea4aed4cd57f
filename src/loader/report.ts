/** The LoadReport: what a load wrote where, every parameter's value, and the boot CPU state, as JSON-able data. */
import type { BootCpuState, SegmentState } from '../arch/x86/boot-state.js';

export type Hex = string;

export function hex(v: bigint | number): Hex {
  return `0x${v.toString(16)}`;
}

export interface MemoryWrite {
  readonly kind: 'page-data' | 'zero-pages' | 'parameter-area';
  readonly gpa: Hex;
  readonly size: Hex;
  readonly pages?: number;
  readonly pageSize?: number;
  /** Header indices (file order) of the first and last header of this run. */
  readonly headers: readonly [number, number];
}

export interface CreatedRam {
  readonly name: string;
  readonly gpa: Hex;
  readonly size: Hex;
  readonly reason: string;
}

export type ParameterValue =
  | { readonly type: 'VP_COUNT_PARAMETER'; readonly byteOffset: number; readonly vpCount: number }
  | { readonly type: 'ENVIRONMENT_INFO_PARAMETER'; readonly byteOffset: number; readonly memoryIsShared: boolean }
  | {
      readonly type: 'MEMORY_MAP';
      readonly byteOffset: number;
      readonly capacity: number;
      readonly entries: readonly { readonly gpa: Hex; readonly size: Hex; readonly type: string }[];
    }
  | { readonly type: 'COMMAND_LINE'; readonly byteOffset: number; readonly commandLine: string }
  | { readonly type: 'MADT'; readonly byteOffset: number; readonly length: number; readonly vcpus: number };

export interface ParameterAreaReport {
  readonly index: number;
  readonly size: Hex;
  readonly initialData: boolean;
  readonly parameters: ParameterValue[];
  insertedAt?: Hex;
}

export interface SkippedHeader {
  readonly headerIndex: number;
  readonly type: string;
  readonly reason: string;
}

export interface SegmentJson {
  readonly selector: Hex;
  readonly base: Hex;
  readonly limit: Hex;
  readonly type: number;
  readonly s: boolean;
  readonly dpl: number;
  readonly present: boolean;
  readonly long: boolean;
  readonly defaultBig: boolean;
  readonly granularity: boolean;
}

export interface BootCpuJson {
  readonly source: BootCpuState['source'];
  readonly registers: Record<string, Hex>;
  readonly segments: Record<string, SegmentJson>;
  readonly gdtr: { readonly base: Hex; readonly limit: Hex };
  readonly idtr: { readonly base: Hex; readonly limit: Hex };
}

export interface LoadReport {
  readonly platform: { readonly type: 'NATIVE'; readonly compatibilityMask: Hex };
  readonly machine: {
    readonly vcpus: number;
    readonly e820: readonly { readonly gpa: Hex; readonly size: Hex; readonly type: string }[];
  };
  readonly writes: MemoryWrite[];
  readonly createdRam: CreatedRam[];
  readonly requiredMemory: { readonly gpa: Hex; readonly size: Hex; readonly headerIndex: number }[];
  readonly parameterAreas: ParameterAreaReport[];
  bootCpu?: BootCpuJson;
  readonly skipped: SkippedHeader[];
  readonly warnings: string[];
}

function segmentJson(s: SegmentState): SegmentJson {
  return {
    selector: hex(s.selector),
    base: hex(s.base),
    limit: hex(s.limit),
    type: s.type,
    s: s.s,
    dpl: s.dpl,
    present: s.present,
    long: s.long,
    defaultBig: s.defaultBig,
    granularity: s.granularity,
  };
}

export function bootCpuJson(state: BootCpuState): BootCpuJson {
  const registers: Record<string, Hex> = {};
  for (const [name, value] of Object.entries(state.gprs)) registers[name] = hex(value);
  Object.assign(registers, {
    rip: hex(state.rip),
    rflags: hex(state.rflags),
    cr0: hex(state.cr0),
    cr3: hex(state.cr3),
    cr4: hex(state.cr4),
    efer: hex(state.efer),
  });
  return {
    source: state.source,
    registers,
    segments: Object.fromEntries(Object.entries(state.segments).map(([n, s]) => [n, segmentJson(s)])),
    gdtr: { base: hex(state.gdt.base), limit: hex(state.gdt.limit) },
    idtr: { base: hex(state.idt.base), limit: hex(state.idt.limit) },
  };
}
