/**
 * The human-readable `igvm inspect` output: an indented tree of the fixed header, platforms,
 * initialization headers, page-data ranges, parameter areas, VP contexts, the other directives and
 * warnings. Header lines start with `#<index> @<file offset>`. Addresses and 64-bit values are hex.
 */
import type { LineWriter } from '../output.js';
import type { PageRange } from '../page-ranges.js';
import {
  PayloadRef,
  platformsForMask,
  type HeaderEntry,
  type InspectReport,
  type ParameterAreaReport,
  type Value,
  type ValueRecord,
} from '../report.js';
import { HexDumper } from './hexdump.js';

export interface TextOptions {
  /** Add hex dumps of payloads (page contents, parameter-area contents, CoRIM, raw contexts). */
  readonly data?: boolean;
}

const INDENT = '  ';

/** Number fields shown in hex. */
const HEX_NUMBER_KEYS = new Set(['compatibilityMask', 'selector', 'raw', 'limit', 'fileOffset', 'byteOffset']);
/** Number fields that are byte counts: shown as "N (0xN)". */
const SIZE_KEYS = new Set(['numberOfBytes', 'sizeBytes', 'length']);

export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

function size(n: number | bigint): string {
  return `${n} (${hex(n)})`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function isRecord(v: Value): v is ValueRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof PayloadRef);
}

function isBits(v: Value): v is ValueRecord & { readonly raw: number | bigint } {
  return isRecord(v) && (typeof v['raw'] === 'number' || typeof v['raw'] === 'bigint');
}

function isEnum(v: Value): v is { readonly value: number; readonly name: string | null } {
  if (!isRecord(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && typeof v['value'] === 'number' && 'name' in v;
}

function bytesText(bytes: Uint8Array): string {
  if (bytes.every((b) => b === 0)) return `zeros (${plural(bytes.length, 'byte')})`;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** "0x30000 (SnpPolicy: smt, reservedMustBeOne)": the raw word, then what is set in it. */
function bitsText(v: ValueRecord & { readonly raw: number | bigint }): string {
  const items: string[] = [];
  let prefix = '';
  for (const [key, value] of Object.entries(v)) {
    if (key === 'raw') continue;
    if (key === 'decodedAs') {
      prefix = typeof value === 'string' ? `${value}: ` : 'not decoded: no SEV or TDX platform under this mask';
      continue;
    }
    if (value === true) items.push(key);
    else if (typeof value === 'number' && value !== 0) items.push(`${key}=${key === 'reserved' ? hex(value) : value}`);
    else if (typeof value === 'bigint' && value !== 0n) items.push(`${key}=${hex(value)}`);
    else if (typeof value === 'string') items.push(value);
  }
  const detail = prefix + (items.length > 0 ? items.join(', ') : prefix ? '' : 'none set');
  return `${hex(v.raw)} (${detail.replace(/: $/, '')})`;
}

/** Segment attribute word: "0x9b: code, execute/read, accessed; S P DPL=0" */
function segmentAttributesText(v: Value): string {
  if (typeof v === 'number') return hex(v);
  if (!isBits(v)) return String(v);
  const flags: string[] = [];
  if (v['s'] === true) flags.push('S');
  flags.push(`DPL=${String(v['dpl'])}`);
  if (v['present'] === true) flags.push('P');
  if (v['avl'] === true) flags.push('AVL');
  if (v['long'] === true) flags.push('L');
  if (v['defaultBig'] === true) flags.push('D/B');
  if (v['granularity'] === true) flags.push('G');
  return `${hex(v.raw)} (${String(v['typeName'])}; ${flags.join(' ')})`;
}

function scalarText(key: string, v: Value, report: InspectReport): string {
  if (typeof v === 'bigint') return hex(v);
  if (typeof v === 'number') {
    if (key === 'compatibilityMask') {
      const names = platformsForMask(report.platforms, v);
      return `${hex(v)}${names.length > 0 ? ` (${names.join(', ')})` : ''}`;
    }
    if (HEX_NUMBER_KEYS.has(key)) return hex(v);
    if (SIZE_KEYS.has(key)) return size(v);
    return String(v);
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null) return key === 'data' || key === 'initialData' ? 'none (zero-filled)' : '-';
  if (v instanceof Uint8Array) return bytesText(v);
  if (v instanceof PayloadRef) return `${plural(v.length, 'byte')} at file offset ${hex(v.fileOffset)}`;
  if (isEnum(v)) return v.name === null ? `${v.value} (unknown)` : `${v.name} (${v.value})`;
  if (isBits(v)) return key === 'attributes' ? segmentAttributesText(v) : bitsText(v);
  return '';
}

class TextRenderer {
  constructor(
    private readonly report: InspectReport,
    private readonly out: LineWriter,
    private readonly options: TextOptions,
  ) {}

  private line(depth: number, text: string): Promise<void> {
    return this.out.line(INDENT.repeat(depth) + text);
  }

  /** Key/value lines for a record, nested records and arrays indented below their key. */
  private async fields(depth: number, record: ValueRecord): Promise<void> {
    const width = Math.max(0, ...Object.keys(record).map((k) => k.length)) + 2;
    for (const [key, value] of Object.entries(record)) {
      if (isRecord(value) && !isBits(value) && !isEnum(value)) {
        await this.line(depth, key);
        await this.fields(depth + 1, value);
      } else if (Array.isArray(value)) {
        const items = value as readonly Value[];
        if (items.length === 0) {
          await this.line(depth, `${key.padEnd(width)}(none)`);
        } else if (items.every((i) => !isRecord(i))) {
          await this.line(depth, `${key.padEnd(width)}${items.map((i) => scalarText(key, i, this.report)).join(', ')}`);
        } else {
          await this.line(depth, key);
          for (const item of items) {
            if (isRecord(item)) await this.fields(depth + 1, item);
            else await this.line(depth + 1, scalarText(key, item, this.report));
          }
        }
      } else {
        await this.line(depth, `${key.padEnd(width)}${scalarText(key, value, this.report)}`);
        if (value instanceof PayloadRef) await this.dumpPayload(depth + 1, value, 0n);
      }
    }
  }

  private async dump(depth: number, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, base: bigint): Promise<void> {
    const dumper = new HexDumper({ base, indent: INDENT.repeat(depth) });
    for await (const chunk of chunks) {
      for (const l of dumper.push(chunk)) await this.out.line(l);
    }
    for (const l of dumper.end()) await this.out.line(l);
  }

  private async dumpPayload(depth: number, ref: PayloadRef, base: bigint): Promise<void> {
    if (!this.options.data) return;
    await this.dump(depth, [await this.report.readData(ref)], base);
  }

  private headerLine(e: HeaderEntry, detail = ''): string {
    return `#${e.index} @${hex(e.offset)} ${e.type}${detail}`;
  }

  async render(): Promise<void> {
    const r = this.report;
    const f = r.fixed;
    await this.line(0, `${r.file.path}: IGVM format version ${f.formatVersion}, ${f.architecture}, ${plural(r.file.size, 'byte')}`);
    await this.line(0, 'fixed header');
    const fixed: [string, string][] = [
      ['format version', String(f.formatVersion)],
      ['architecture', f.architectureImplied ? `${f.architecture} (implied by version 1)` : f.architecture],
      ['page size', size(f.pageSize)],
      ['fixed header size', String(f.fixedHeaderSize)],
      ['variable headers', `${plural(f.variableHeaderSize, 'byte')} at ${hex(f.variableHeaderOffset)}`],
      ['file data', `${plural(f.fileDataSize, 'byte')} at ${hex(f.fileDataOffset)}`],
      ['total file size', size(f.totalFileSize)],
      ['checksum', `0x${f.checksum.toString(16).padStart(8, '0')}`],
    ];
    for (const [k, v] of fixed) await this.line(1, `${k.padEnd(19)}${v}`);

    if (r.platformFilter) {
      const pf = r.platformFilter;
      await this.line(
        0,
        pf.mask === undefined
          ? `platform filter: ${pf.platform} (no such platform in the file: nothing was filtered)`
          : `platform filter: ${pf.platform} (mask ${hex(pf.mask)}): only headers for this platform are shown`,
      );
    }

    await this.line(0, `platforms (${r.platforms.length})`);
    for (const p of r.platforms) {
      const h = p.fields;
      await this.line(
        1,
        this.headerLine(
          p,
          `: ${String(h['platformType'])}, mask ${hex(h['compatibilityMask'] as number)}, version ${String(h['platformVersion'])}, ` +
            `highest VTL ${String(h['highestVtl'])}, shared GPA boundary ${hex(h['sharedGpaBoundary'] as bigint)}`,
        ),
      );
    }

    await this.line(0, `initialization headers (${r.initializations.length})`);
    for (const e of r.initializations) {
      await this.line(1, this.headerLine(e));
      await this.fields(2, e.fields);
    }

    await this.line(0, `directives: ${plural(r.directiveCount, 'header')} (${r.pageCount} PAGE_DATA)`);
    await this.pageRanges();
    await this.parameterAreas();
    await this.vpContexts();

    const others = r.otherDirectives.filter((e) => e.type !== 'VP_CONTEXT' && !isParameterDirective(e));
    await this.line(0, `other directives (${others.length})`);
    for (const e of others) {
      await this.line(1, this.headerLine(e));
      await this.fields(2, e.fields);
    }

    await this.line(0, `warnings (${r.warnings.length})`);
    for (const w of r.warnings) {
      const where = [w.headerIndex !== undefined ? `#${w.headerIndex}` : '', w.offset !== undefined ? `@${hex(w.offset)}` : ''].filter(Boolean).join(' ');
      await this.line(1, `${where ? `${where}: ` : ''}${w.message}`);
    }
  }

  private async pageRanges(): Promise<void> {
    const ranges = this.report.pageRanges;
    await this.line(0, `page data: ${plural(this.report.pageCount, 'page')} in ${plural(ranges.length, 'range')}`);
    if (ranges.length === 0) return;
    const digits = ranges.some((x) => x.endGpa > 0xffff_ffffn) ? 16 : 8;
    const gpa = (v: bigint) => `0x${v.toString(16).padStart(digits, '0')}`;
    const rows = ranges.map((x) => [
      `${gpa(x.startGpa)}-${gpa(x.endGpa)}`,
      String(x.pageCount),
      hex(x.compatibilityMask),
      x.dataType,
      pageFlagsText(x),
      x.kind,
      x.firstHeaderIndex === x.lastHeaderIndex ? `#${x.firstHeaderIndex}` : `#${x.firstHeaderIndex}-#${x.lastHeaderIndex}`,
    ]);
    const head = ['GPA range', 'pages', 'mask', 'type', 'flags', 'contents', 'headers'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
    const fmt = (row: string[]) =>
      row
        .map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    await this.line(1, fmt(head));
    for (let i = 0; i < ranges.length; i++) {
      const row = rows[i];
      const range = ranges[i];
      if (!row || !range) continue;
      await this.line(1, fmt(row));
      if (this.options.data && range.kind === 'data') await this.dumpRange(range);
    }
  }

  /** Dump the contents of a data range page by page (address column = GPA). */
  private async dumpRange(range: PageRange): Promise<void> {
    const report = this.report;
    const pages = report.pagePayloads(range);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (const p of pages) {
        const bytes = p ? await report.readData(p) : new Uint8Array(0);
        yield bytes;
        // A page shorter than 4 KiB is zero-filled by the loader; show it as such.
        if (bytes.length < 4096) yield new Uint8Array(4096 - bytes.length);
      }
    }
    await this.dump(2, chunks(), range.startGpa);
  }

  private async parameterAreas(): Promise<void> {
    const areas = this.report.parameterAreas;
    await this.line(0, `parameter areas (${areas.length})`);
    for (const a of areas) await this.parameterArea(a);
  }

  private async parameterArea(a: ParameterAreaReport): Promise<void> {
    const decl = a.declaration;
    const contents = a.initialData
      ? `initial contents ${plural(a.initialData.length, 'byte')} at file offset ${hex(a.initialData.fileOffset)}`
      : 'initially zero';
    await this.line(
      1,
      decl && a.numberOfBytes !== undefined
        ? `parameter area ${a.parameterAreaIndex}: ${size(a.numberOfBytes)} bytes, ${contents} (#${decl.index} @${hex(decl.offset)})`
        : `parameter area ${a.parameterAreaIndex}: not declared by any PARAMETER_AREA header`,
    );
    if (a.initialData) await this.dumpPayload(2, a.initialData, 0n);
    for (const p of a.parameters) await this.line(2, `${p.type} at byte offset ${hex(p.byteOffset)} (#${p.headerIndex})`);
    if (a.inserts.length === 0) await this.line(2, 'never inserted');
    for (const i of a.inserts) {
      const names = platformsForMask(this.report.platforms, i.compatibilityMask);
      await this.line(
        2,
        `inserted at GPA ${hex(i.gpa)}, mask ${hex(i.compatibilityMask)}${names.length ? ` (${names.join(', ')})` : ''} (#${i.headerIndex})`,
      );
    }
  }

  private async vpContexts(): Promise<void> {
    const contexts = this.report.otherDirectives.filter((e) => e.type === 'VP_CONTEXT');
    await this.line(0, `VP contexts (${contexts.length})`);
    for (const e of contexts) await this.vpContext(e);
  }

  private async vpContext(e: HeaderEntry): Promise<void> {
    const f = e.fields;
    const ctx = f['context'];
    if (ctx === undefined || !isRecord(ctx)) return;
    const format = String(ctx['format']);
    const mode = typeof ctx['mode'] === 'string' ? `, ${ctx['mode']} mode` : '';
    const platform = f['platform'] === null ? '' : ` (${String(f['platform'])})`;
    const gpa = typeof f['gpa'] === 'bigint' && f['gpa'] !== 0n ? `, VMSA at GPA ${hex(f['gpa'])}` : '';
    await this.line(
      1,
      this.headerLine(e, `: vp ${String(f['vpIndex'])}, mask ${hex(f['compatibilityMask'] as number)}${platform}, ${format}${mode}${gpa}`),
    );
    const d = 2;
    switch (format) {
      case 'native-x64':
        return this.nativeContext(d, ctx);
      case 'sev-vmsa':
        return this.vmsaContext(d, ctx);
      case 'vbs-x64':
      case 'vbs-aarch64':
        return this.vbsContext(d, ctx);
      case 'cca':
        return this.registerGrid(d, asRecord(ctx['registers']));
      case 'raw': {
        await this.line(d, `raw context, ${plural(Number(ctx['length']), 'byte')} (its platform defines no context format)`);
        const h = e.header;
        if (this.options.data && h.type === 'VP_CONTEXT' && h.context.format === 'raw') await this.dump(d + 1, [h.context.bytes], 0n);
        return;
      }
      default:
        return this.fields(d, ctx);
    }
  }

  /** Registers four to a line: "rax 0x0   rcx 0x0 ...". */
  private async registerGrid(depth: number, regs: ValueRecord, names = Object.keys(regs)): Promise<void> {
    const nameWidth = Math.max(3, ...names.map((n) => n.length)) + 1;
    const cells = names.map((n) => {
      const v = regs[n];
      return `${n.padEnd(nameWidth)}${typeof v === 'bigint' || typeof v === 'number' ? hex(v) : String(v)}`;
    });
    const width = Math.max(...cells.map((c) => c.length)) + 2;
    for (let i = 0; i < cells.length; i += 4) {
      await this.line(depth, cells.slice(i, i + 4).map((c, j, row) => (j === row.length - 1 ? c : c.padEnd(width))).join(''));
    }
  }

  private segmentText(seg: Value): string {
    const s = asRecord(seg);
    return (
      `selector ${hex(s['selector'] as number)} base ${hex(s['base'] as bigint)} limit ${hex(s['limit'] as number)} ` +
      `attributes ${segmentAttributesText(s['attributes'] ?? null)}`
    );
  }

  private async nativeContext(d: number, ctx: ValueRecord): Promise<void> {
    const regs = asRecord(ctx['registers']);
    const names = asRecord(ctx['flagNames']);
    const withNames = (key: string) => {
      const v = regs[key] as bigint;
      const set = names[key];
      return Array.isArray(set) && set.length > 0 ? `${hex(v)} (${set.join(' ')})` : hex(v);
    };
    const gprs = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
    await this.registerGrid(d, regs, gprs);
    const table = (t: Value) => {
      const r = asRecord(t);
      return `base ${hex(r['base'] as bigint)} limit ${hex(r['limit'] as number)}`;
    };
    const rows: [string, string][] = [
      ['rip', hex(regs['rip'] as bigint)],
      ['rflags', withNames('rflags')],
      ['cr0', withNames('cr0')],
      ['cr3', hex(regs['cr3'] as bigint)],
      ['cr4', withNames('cr4')],
      ['efer', withNames('efer')],
      ['gdtr', table(ctx['gdtr'] ?? null)],
      ['idtr', table(ctx['idtr'] ?? null)],
      ['cs', this.segmentText(ctx['cs'] ?? null)],
      ['ds/es/fs/gs/ss', this.segmentText(ctx['data'] ?? null)],
      ['gs base', hex(regs['gsBase'] as bigint)],
    ];
    for (const [k, v] of rows) await this.line(d, `${k.padEnd(16)}${v}`);
    const problems = ctx['problems'];
    if (Array.isArray(problems)) for (const p of problems) await this.line(d, `problem: ${String(p)}`);
  }

  private async vmsaContext(d: number, ctx: ValueRecord): Promise<void> {
    const segments = asRecord(ctx['segments']);
    const fields = asRecord(ctx['fields']);
    if (Object.keys(segments).length === 0 && Object.keys(fields).length === 0) {
      await this.line(d, 'all fields zero');
      return;
    }
    await this.line(d, 'non-zero fields:');
    const width = Math.max(6, ...Object.keys(fields).map((k) => k.length)) + 2;
    for (const [name, seg] of Object.entries(segments)) await this.line(d + 1, `${name.padEnd(width)}${this.segmentText(seg)}`);
    const flagNames = asRecord(ctx['flagNames']);
    for (const [name, v] of Object.entries(fields)) {
      const set = flagNames[name];
      const names = Array.isArray(set) && set.length > 0 ? ` (${set.join(' ')})` : '';
      await this.line(d + 1, `${name.padEnd(width)}${scalarText(name, v, this.report)}${names}`);
    }
  }

  private async vbsContext(d: number, ctx: ValueRecord): Promise<void> {
    await this.line(d, `VTL ${String(ctx['vtl'])}`);
    const regs = ctx['registers'];
    if (!Array.isArray(regs)) return;
    const records = (regs as readonly Value[]).map(asRecord);
    const width = Math.max(6, ...records.map((r) => String(r['name']).length)) + 2;
    for (const r of records) {
      const name = String(r['name']).padEnd(width);
      switch (r['kind']) {
        case 'segment':
          await this.line(d, name + this.segmentText(r));
          break;
        case 'table':
          await this.line(d, `${name}base ${hex(r['base'] as bigint)} limit ${hex(r['limit'] as number)}`);
          break;
        default:
          await this.line(d, name + hex(r['value'] as bigint));
      }
    }
  }
}

function asRecord(v: Value | undefined): ValueRecord {
  return v !== undefined && isRecord(v) ? v : {};
}

function isParameterDirective(e: HeaderEntry): boolean {
  return e.type === 'PARAMETER_AREA' || e.type === 'PARAMETER_INSERT' || 'byteOffset' in e.header;
}

function pageFlagsText(r: PageRange): string {
  const out: string[] = [];
  if (r.flags.is2mbPage) out.push('2MB');
  if (r.flags.unmeasured) out.push('unmeasured');
  if (r.flags.shared) out.push('shared');
  if (r.flags.reserved !== 0) out.push(`reserved=${hex(r.flags.reserved)}`);
  return out.length > 0 ? out.join(',') : '-';
}

export async function renderText(report: InspectReport, out: LineWriter, options: TextOptions = {}): Promise<void> {
  await new TextRenderer(report, out, options).render();
}
