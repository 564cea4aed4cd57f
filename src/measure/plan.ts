/**
 * The walk over a file's directives that decides what a platform measures, in which order, under a
 * profile's rules: a lazy sequence of steps (pages, parameter pages, VMSAs, VBS registers). Page
 * payloads stay `DataRef`s here; the digest loop reads them in batches.
 */
import { PAGE_SIZE_4K, type PageDataTypeName } from '../format/constants.js';
import { encodeVbsValue } from '../format/codecs.js';
import { hex } from '../format/errors.js';
import type { DataRef, DirectiveHeader, ParsedIgvm, VpContextHeader } from '../format/model.js';
import { vbsRegisterByName } from '../format/vbs-registers.js';
import { SevVmsa } from '../format/vmsa.js';
import { architectureOf } from '../format/model.js';
import { MeasureError, type MeasureWarning } from './errors.js';
import { maskSelects, type MeasurablePlatform, type ProfileRules } from './profiles.js';

const PAGE = BigInt(PAGE_SIZE_4K);
const PAGES_PER_2M = 512;
/** The most 4 KiB pages one directive may expand to (a 2^52-byte parameter area must not hang the walk). */
export const MAX_PAGES_PER_DIRECTIVE = 1 << 24;
export const KVM_VMSA_GPA = 0xffff_ffff_f000n;

export type Step =
  /** One 4 KiB page of page data; `data` undefined = a zero page (no file data). */
  | { readonly kind: 'page'; readonly header: number; readonly gpa: bigint; readonly dataType: PageDataTypeName; readonly unmeasured: boolean; readonly data: DataRef | undefined }
  /** One page of an inserted parameter area (never measured by content). */
  | { readonly kind: 'parameter'; readonly header: number; readonly gpa: bigint }
  /** One page of a VBS error range. */
  | { readonly kind: 'error-range'; readonly header: number; readonly gpa: bigint }
  | { readonly kind: 'vmsa'; readonly header: number; readonly gpa: bigint; readonly bytes: Uint8Array }
  | { readonly kind: 'register'; readonly header: number; readonly vtl: number; readonly name: number; readonly value: Uint8Array };

export interface PlanInput {
  readonly igvm: ParsedIgvm<DataRef>;
  readonly platform: MeasurablePlatform;
  readonly platformMask: number;
  readonly rules: ProfileRules;
  readonly warn: (warning: MeasureWarning) => void;
  /** Called with the index of each directive as the walk reaches it (progress). */
  readonly onDirective?: (index: number) => void;
}

type Directive = DirectiveHeader<DataRef>;

function headerIndexOf(igvm: ParsedIgvm<DataRef>, i: number): number {
  return igvm.locations.directives[i]?.index ?? i;
}

function pageCount(bytes: bigint, header: number, what: string, round: 'up' | 'down'): number {
  const pages = round === 'up' ? (bytes + PAGE - 1n) / PAGE : bytes / PAGE;
  if (pages > BigInt(MAX_PAGES_PER_DIRECTIVE)) {
    throw new MeasureError('TooLarge', `${what} of ${hex(bytes)} bytes is more than ${MAX_PAGES_PER_DIRECTIVE} pages to measure`, header);
  }
  return Number(pages);
}

/** Whether two page directives extend one QEMU page run (equal attributes, contiguous GPAs). */
function extendsRun(prev: Directive & { type: 'PAGE_DATA' }, next: Directive & { type: 'PAGE_DATA' }, prevPages: number): boolean {
  return (
    prev.compatibilityMask === next.compatibilityMask &&
    prev.dataType === next.dataType &&
    prev.flags.unmeasured === next.flags.unmeasured &&
    prev.flags.shared === next.flags.shared &&
    prev.flags.is2mbPage === next.flags.is2mbPage &&
    prev.gpa + BigInt(prevPages) * PAGE === next.gpa
  );
}

/** The steps of `input.platform` in measurement order. */
export function* planSteps(input: PlanInput): Generator<Step> {
  const { igvm, platform, platformMask, rules, warn } = input;
  const arch = architectureOf(igvm.revision);
  const areas = new Map<number, bigint>();
  const deferredVmsas: Step[] = [];
  const registers: Step[] = [];
  const sevFamily = platform === 'SEV_SNP' || platform === 'SEV_ES' || platform === 'SEV';
  let pendingRun: { last: Directive & { type: 'PAGE_DATA' }; pages: number; steps: Step[] } | undefined;
  let vmsaCount = 0;

  const selects = (mask: number): boolean => maskSelects(rules, mask, platformMask);

  for (let i = 0; i < igvm.directives.length; i++) {
    input.onDirective?.(i);
    const d = igvm.directives[i]!;
    const header = headerIndexOf(igvm, i);
    switch (d.type) {
      case 'PARAMETER_AREA': {
        if (platform === 'VSM_ISOLATION' && areas.has(d.parameterAreaIndex)) {
          throw new MeasureError('InvalidParameterAreaIndex', `parameter area ${d.parameterAreaIndex} is declared twice`, header, d.type);
        }
        areas.set(d.parameterAreaIndex, d.numberOfBytes);
        break;
      }
      case 'PAGE_DATA': {
        if (!selects(d.compatibilityMask)) break;
        if (platform === 'VSM_ISOLATION' && d.dataType !== 'NORMAL') {
          throw new MeasureError('UnmeasurablePageType', `page type ${d.dataType} at ${hex(d.gpa)} cannot be measured on VBS (only NORMAL pages)`, header, d.type);
        }
        if (d.flags.shared && rules.skipShared) break;
        const steps = pageSteps(d, header, rules, warn);
        if (rules.lazyPageFlush) {
          if (pendingRun && extendsRun(pendingRun.last, d, pendingRun.pages)) {
            pendingRun.steps.push(...steps);
            pendingRun.last = d;
            pendingRun.pages = steps.length;
          } else {
            if (pendingRun) yield* pendingRun.steps;
            pendingRun = { last: d, pages: steps.length, steps };
          }
        } else {
          yield* steps;
        }
        break;
      }
      case 'PARAMETER_INSERT': {
        if (rules.parameterInsert === 'none' || !selects(d.compatibilityMask)) break;
        const size = areas.get(d.parameterAreaIndex);
        if (size === undefined) {
          throw new MeasureError('InvalidParameterAreaIndex', `parameter area ${d.parameterAreaIndex} is not declared before its insert`, header, d.type);
        }
        if (rules.kvmChecks && vmsaCount > 0) {
          warn({ message: 'KVM check: a PARAMETER_INSERT follows a VMSA; KVM measures the VMSA at launch finish, so it must be the last page directive', headerIndex: header });
        }
        const pages = rules.parameterInsert === 'first' ? 1 : pageCount(size, header, `parameter area ${d.parameterAreaIndex}`, platform === 'VSM_ISOLATION' ? 'down' : 'up');
        // VBS and TDX take inserts in directive order; SEV-family measure them (UNMEASURED) the same way.
        for (let p = 0; p < pages; p++) yield { kind: 'parameter', header, gpa: d.gpa + BigInt(p) * PAGE };
        break;
      }
      case 'ERROR_RANGE': {
        if (platform !== 'VSM_ISOLATION' || !selects(d.compatibilityMask)) break;
        const pages = pageCount(BigInt(d.sizeBytes), header, 'error range', 'up');
        for (let p = 0; p < pages; p++) yield { kind: 'error-range', header, gpa: d.gpa + BigInt(p) * PAGE };
        break;
      }
      case 'VP_CONTEXT': {
        const c = d.context;
        if (c.format === 'sev-vmsa' && sevFamily) {
          if (rules.vmsaMaskChecked && !selects(d.compatibilityMask)) break;
          if (rules.kvmChecks) kvmVmsaChecks(d, c.vmsa.cr0, vmsaCount, header, warn);
          vmsaCount++;
          const step: Step = { kind: 'vmsa', header, gpa: d.gpa, bytes: SevVmsa.encode(c.vmsa) };
          if (rules.vmsaLast) deferredVmsas.push(step);
          else {
            if (pendingRun) {
              yield* pendingRun.steps;
              pendingRun = undefined;
            }
            yield step;
          }
        } else if ((c.format === 'vbs-x64' || c.format === 'vbs-aarch64') && platform === 'VSM_ISOLATION') {
          if (!selects(d.compatibilityMask)) break;
          for (const r of c.registers) {
            const spec = vbsRegisterByName(arch, r.name);
            if (!spec) throw new MeasureError('UnmeasurablePageType', `register ${r.name} has no ${arch} register name`, header, d.type);
            registers.push({ kind: 'register', header, vtl: c.vtl, name: spec.code, value: encodeVbsValue(r.value) });
          }
        }
        break;
      }
      default:
        break;
    }
  }
  input.onDirective?.(igvm.directives.length);
  if (pendingRun) yield* pendingRun.steps;
  yield* deferredVmsas;
  // The VBS format measures the VP registers after every page.
  yield* registers;
}

function pageSteps(d: Directive & { type: 'PAGE_DATA' }, header: number, rules: ProfileRules, warn: (w: MeasureWarning) => void): Step[] {
  const data = d.data.length === 0 ? undefined : d.data;
  const first: Step = { kind: 'page', header, gpa: d.gpa, dataType: d.dataType, unmeasured: d.flags.unmeasured, data };
  if (!d.flags.is2mbPage || rules.largePages === 'one') return [first];
  if (data && rules.name.startsWith('svsm')) {
    warn({ message: 'igvmmeasure aborts on a 2 MiB page with only 4 KiB of data; measured as 4 KiB of data and 511 zero pages', headerIndex: header });
  }
  const steps: Step[] = [first];
  for (let p = 1; p < PAGES_PER_2M; p++) {
    steps.push({ kind: 'page', header, gpa: d.gpa + BigInt(p) * PAGE, dataType: d.dataType, unmeasured: d.flags.unmeasured, data: undefined });
  }
  return steps;
}

function kvmVmsaChecks(d: VpContextHeader, cr0: bigint, count: number, header: number, warn: (w: MeasureWarning) => void): void {
  if (count > 0) warn({ message: 'KVM check: more than one VMSA; QEMU/KVM sets only the first vCPU\'s VMSA', headerIndex: header });
  if (d.gpa !== KVM_VMSA_GPA) warn({ message: `KVM check: VMSA GPA ${hex(d.gpa)} is not ${hex(KVM_VMSA_GPA)}, where KVM places it`, headerIndex: header });
  if (cr0 !== 0x31n && cr0 !== 0x30n) warn({ message: `KVM check: VMSA CR0 ${hex(cr0)} is not 0x31 or 0x30, the value KVM measures`, headerIndex: header });
}
