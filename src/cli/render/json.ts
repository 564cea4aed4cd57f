/**
 * `igvm inspect --json`: schema "igvm-ts/inspect/v1" (also documented in docs/inspect-json.md).
 *
 * Value conventions, everywhere in the document:
 * - Every 64-bit field of the format, every guest address (GPA), segment or descriptor-table base and
 *   every 64-bit register is a string "0x<lowercase hex>" without leading zeros ("0x0", "0xfff0").
 * - Every other integer is a JSON number: masks, selectors, attribute words, indexes, u32/u16/u8 sizes,
 *   file offsets, checksum.
 * - Fixed byte arrays inside headers (SNP ID block digests and keys, VBS measurement fields) are
 *   lowercase hex strings without a "0x" prefix, two characters a byte.
 * - File data a header points to is a payload object { fileOffset, length } (numbers), or null when the
 *   header has no file data (file_offset 0: a zero page / zero-filled area). With --data a payload also
 *   has "sha256" (lowercase hex) and "allZero" (boolean).
 * - A decoded bitfield is an object whose "raw" member holds the whole word (a number, or a hex string
 *   for 64-bit words), followed by one member per field (booleans for single bits, numbers for wider
 *   fields) and "reserved" for the bits outside any field.
 * - An enumeration stored as a number is { value: number, name: string | null } (null = unknown value).
 *
 * Document:
 * {
 *   schema: "igvm-ts/inspect/v1",
 *   file: { path: string, size: number },
 *   revision: {
 *     formatVersion: 1 | 2, architecture: "X64" | "AARCH64", architectureImplied: boolean (true for v1),
 *     pageSize: number, fixedHeaderSize: number, variableHeaderOffset: number, variableHeaderSize: number,
 *     totalFileSize: number, checksum: number, fileDataOffset: number, fileDataSize: number
 *   },
 *   platformFilter: null | { platform: PlatformType, matched: boolean, compatibilityMask: number | null },
 *   platforms:       Header[]   (SUPPORTED_PLATFORM headers),
 *   initializations: Header[]   (kept initialization headers, file order),
 *   directives:      Header[]   (kept directive headers including every PAGE_DATA, file order),
 *   pageRanges: [{ startGpa: hex, endGpa: hex (last byte, inclusive), pageCount: number,
 *                  compatibilityMask: number, dataType: PageDataType, flags: PageFlags,
 *                  kind: "zero" | "data", firstHeaderIndex: number, lastHeaderIndex: number }],
 *   parameterAreas: [{ parameterAreaIndex: number, headerIndex: number | null (null: never declared),
 *                      numberOfBytes: hex | null, initialData: Payload | null,
 *                      parameters: [{ type: string, byteOffset: number, headerIndex: number }],
 *                      inserts: [{ gpa: hex, compatibilityMask: number, headerIndex: number }] }],
 *   warnings: [{ message: string, offset: number | null, headerIndex: number | null }]
 * }
 *
 * Header = { index: number (position among all variable headers of the file), offset: number (file
 *            offset of its TLV record), type: string (e.g. "PAGE_DATA"), typeCode: number, fields: {...} }
 *
 * fields by type:
 * - SUPPORTED_PLATFORM: compatibilityMask, platformType (NATIVE | VSM_ISOLATION | SEV_SNP | TDX | SEV |
 *   SEV_ES | CCA), platformVersion, highestVtl, sharedGpaBoundary (hex)
 * - GUEST_POLICY: compatibilityMask, policy (bitfield, raw hex; decodedAs "SnpPolicy" | "TdxPolicy" |
 *   null, chosen by the platforms under the mask, then that policy's fields)
 * - RELOCATABLE_REGION: compatibilityMask, vpIndex, vtl, flags {raw, isVtl2, applyRip, applyGdtr},
 *   relocationAlignment, relocationRegionGpa, relocationRegionSize, minimumRelocationGpa,
 *   maximumRelocationGpa (hex)
 * - PAGE_TABLE_RELOCATION_REGION: compatibilityMask, vpIndex, vtl, gpa, size, usedSize (hex)
 * - CORIM_DOCUMENT / CORIM_SIGNATURE: compatibilityMask, data (Payload | null)
 * - CCA_POLICY: compatibilityMask, attributesRequiredZeroes / attributesRequiredOnes
 *   {raw hex, debug, mec, reserved hex}, hashAlgorithm (enum), lfaPolicy (enum)
 * - PAGE_DATA: gpa (hex), compatibilityMask, dataType (NORMAL | SECRETS | CPUID_DATA | CPUID_XF),
 *   flags {raw, is2mbPage, unmeasured, shared, reserved}, data (Payload | null = zero page)
 * - PARAMETER_AREA: parameterAreaIndex, numberOfBytes (hex), initialData (Payload | null)
 * - PARAMETER_INSERT: gpa (hex), compatibilityMask, parameterAreaIndex
 * - parameter usages (VP_COUNT_PARAMETER, SRAT, MADT, MMIO_RANGES, MEMORY_MAP, COMMAND_LINE, SLIT,
 *   PPTT, DEVICE_TREE, ENVIRONMENT_INFO_PARAMETER): parameterAreaIndex, byteOffset
 * - REQUIRED_MEMORY: gpa (hex), compatibilityMask, numberOfBytes, flags {raw, vtl2Protectable, reserved}
 * - ERROR_RANGE: gpa (hex), compatibilityMask, sizeBytes
 * - SNP_ID_BLOCK: every field of IGVM_VHS_SNP_ID_BLOCK by its model name (byte arrays as hex)
 * - VBS_MEASUREMENT: every field of IGVM_VHS_VBS_MEASUREMENT; bootDigestAlgo and signingAlgo as enums
 * - VP_CONTEXT: vpIndex, compatibilityMask, platform (PlatformType | null), gpa (hex; the VMSA GPA for
 *   SEV-SNP/SEV-ES, else "0x0"), context, one of:
 *   { format: "native-x64", mode: "real16" | "protected32" | "compat32" | "long64",
 *     registers: { rax ... r15, rip, rflags, cr0, cr3, cr4, efer, gsBase: hex },
 *     flagNames: { rflags, cr0, cr4, efer: string[] (names of the set bits) },
 *     gdtr / idtr: { base: hex, limit: number },
 *     cs / data: Segment (data = DS, ES, FS, GS and SS), problems: string[] }
 *   { format: "sev-vmsa", segments: { es|cs|ss|ds|fs|gs|gdtr|ldtr|idtr|tr: Segment } (non-zero ones),
 *     fields: { <SevVmsa field>: value } (non-zero ones only; sevFeatures as a bitfield),
 *     flagNames: { rflags, cr0, cr4, efer: string[] } }
 *   { format: "vbs-x64" | "vbs-aarch64", vtl: number, registers: [ {name, kind: "scalar", value: hex}
 *     | {name, kind: "segment", selector, base: hex, limit, attributes} | {name, kind: "table", base: hex,
 *     limit} ] }
 *   { format: "cca", registers: { x0 ... x7, pc, flags: hex } }
 *   { format: "raw", length: number }   (lenient parses: a platform with no context format)
 *   Segment = { selector: number, base: hex, limit: number, attributes: { raw: number, typeName: string,
 *               type, s, dpl, present, avl, long, defaultBig, granularity } }
 *   (VMSA attributes are the SVM 12-bit form; the decoded members are the same.)
 *
 * Members are never removed or renamed within v1; new members may be added.
 */
import { createHash } from 'node:crypto';
import type { LineWriter } from '../output.js';
import type { PageRange } from '../page-ranges.js';
import { PayloadRef, type HeaderEntry, type InspectReport, type ParameterAreaReport, type Value } from '../report.js';

export const INSPECT_SCHEMA = 'igvm-ts/inspect/v1';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface JsonOptions {
  /** Add sha256 and allZero to every payload (reads the payloads). */
  readonly data?: boolean;
}

export function hexString(v: bigint): string {
  return `0x${v.toString(16)}`;
}

async function payloadJson(ref: PayloadRef, report: InspectReport, options: JsonOptions): Promise<Json> {
  const out: { [key: string]: Json } = { fileOffset: ref.fileOffset, length: ref.length };
  if (options.data) {
    const bytes = await report.readData(ref);
    out['sha256'] = createHash('sha256').update(bytes).digest('hex');
    out['allZero'] = bytes.every((b) => b === 0);
  }
  return out;
}

/** Convert a report value to JSON by the conventions above. */
export async function toJson(value: Value, report: InspectReport, options: JsonOptions): Promise<Json> {
  if (typeof value === 'bigint') return hexString(value);
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (value instanceof PayloadRef) return payloadJson(value, report, options);
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (const item of value as readonly Value[]) out.push(await toJson(item, report, options));
    return out;
  }
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) out[k] = await toJson(v, report, options);
  return out;
}

async function headerJson(e: HeaderEntry, report: InspectReport, options: JsonOptions): Promise<Json> {
  return { index: e.index, offset: e.offset, type: e.type, typeCode: e.typeCode, fields: await toJson(e.fields, report, options) };
}

function pageRangeJson(r: PageRange): Json {
  const f = r.flags;
  const raw = (f.is2mbPage ? 1 : 0) | (f.unmeasured ? 2 : 0) | (f.shared ? 4 : 0) | f.reserved;
  return {
    startGpa: hexString(r.startGpa),
    endGpa: hexString(r.endGpa),
    pageCount: r.pageCount,
    compatibilityMask: r.compatibilityMask,
    dataType: r.dataType,
    flags: { raw: raw >>> 0, is2mbPage: f.is2mbPage, unmeasured: f.unmeasured, shared: f.shared, reserved: f.reserved },
    kind: r.kind,
    firstHeaderIndex: r.firstHeaderIndex,
    lastHeaderIndex: r.lastHeaderIndex,
  };
}

async function parameterAreaJson(a: ParameterAreaReport, report: InspectReport, options: JsonOptions): Promise<Json> {
  return {
    parameterAreaIndex: a.parameterAreaIndex,
    headerIndex: a.declaration?.index ?? null,
    numberOfBytes: a.numberOfBytes === undefined ? null : hexString(a.numberOfBytes),
    initialData: a.initialData ? await payloadJson(a.initialData, report, options) : null,
    parameters: a.parameters.map((p) => ({ type: p.type, byteOffset: p.byteOffset, headerIndex: p.headerIndex })),
    inserts: a.inserts.map((i) => ({ gpa: hexString(i.gpa), compatibilityMask: i.compatibilityMask, headerIndex: i.headerIndex })),
  };
}

/** JSON.stringify(value, null, 2), every line after the first indented by `indent`. */
function pretty(value: Json, indent: string): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
}

/**
 * Write the document. Arrays are written element by element so that a file with a great many pages
 * never needs its whole JSON text in memory; the output equals JSON.stringify(document, null, 2).
 */
export async function renderJson(report: InspectReport, out: LineWriter, options: JsonOptions = {}): Promise<void> {
  const f = report.fixed;
  const pf = report.platformFilter;
  const head: [string, Json][] = [
    ['schema', INSPECT_SCHEMA],
    ['file', { path: report.file.path, size: report.file.size }],
    [
      'revision',
      {
        formatVersion: f.formatVersion,
        architecture: f.architecture,
        architectureImplied: f.architectureImplied,
        pageSize: f.pageSize,
        fixedHeaderSize: f.fixedHeaderSize,
        variableHeaderOffset: f.variableHeaderOffset,
        variableHeaderSize: f.variableHeaderSize,
        totalFileSize: f.totalFileSize,
        checksum: f.checksum,
        fileDataOffset: f.fileDataOffset,
        fileDataSize: f.fileDataSize,
      },
    ],
    ['platformFilter', pf ? { platform: pf.platform, matched: pf.mask !== undefined, compatibilityMask: pf.mask ?? null } : null],
  ];
  await out.write('{');
  let first = true;
  const member = async (key: string, value: Json) => {
    await out.write(`${first ? '' : ','}\n  ${JSON.stringify(key)}: ${pretty(value, '  ')}`);
    first = false;
  };
  const arrayMember = async (key: string, items: Iterable<Json> | AsyncIterable<Json>) => {
    await out.write(`${first ? '' : ','}\n  ${JSON.stringify(key)}: [`);
    first = false;
    let n = 0;
    for await (const item of items) {
      await out.write(`${n === 0 ? '' : ','}\n    ${pretty(item, '    ')}`);
      n++;
    }
    await out.write(n === 0 ? ']' : '\n  ]');
  };

  for (const [k, v] of head) await member(k, v);
  const headers = async function* (entries: Iterable<HeaderEntry>): AsyncGenerator<Json> {
    for (const e of entries) yield await headerJson(e, report, options);
  };
  await arrayMember('platforms', headers(report.platforms));
  await arrayMember('initializations', headers(report.initializations));
  await arrayMember('directives', headers(report.directives()));
  await arrayMember('pageRanges', report.pageRanges.map(pageRangeJson));
  await arrayMember(
    'parameterAreas',
    (async function* () {
      for (const a of report.parameterAreas) yield await parameterAreaJson(a, report, options);
    })(),
  );
  await arrayMember(
    'warnings',
    report.warnings.map((w) => ({ message: w.message, offset: w.offset ?? null, headerIndex: w.headerIndex ?? null })),
  );
  await out.write('\n}\n');
}
