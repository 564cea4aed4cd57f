/**
 * Test helpers for the shared reference vectors (../shared/vectors beside the repository):
 * locating and loading them, and `toReferenceShape`, which maps our typed model onto the JSON shape
 * of the reference implementation's own parse dump (expected/NAME.json) so the two compare with
 * `toEqual`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CcaHashAlgorithm,
  CcaLfaPolicy,
  SevFeatures,
  VMSA_SEGMENTS,
  type DataLike,
  type DirectiveHeader,
  type IgvmFile,
  type IgvmRevision,
  type InitializationHeader,
  type NativeVpContextX64Fields,
  type PlatformHeader,
  type SevVmsaFields,
  type VbsRegister,
} from '../../src/format/index.js';

// ---- locating and loading ----

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const vectorsDir = path.resolve(repoRoot, '../shared/vectors');
export const vectorsAvailable = existsSync(path.join(vectorsDir, 'expected'));

/** The vectors listed in ../shared/vectors/README.md (used to name the skipped tests when absent). */
export const KNOWN_VECTORS = [
  'v1_basic_capi',
  'v1_merged_vsm_snp',
  'v1_minimal_native_page',
  'v1_snp_basic',
  'v1_vbs_reloc_vpctx',
  'v1_x64_native_vpctx',
  'v1_zero_page_only',
  'v2_aarch64_cca',
  'v2_x64_native_vpctx',
] as const;

let warned = false;
/** Print once per test file why the vector tests are skipped. Returns true when they are. */
export function skipVectorTests(): boolean {
  if (!vectorsAvailable && !warned) {
    warned = true;
    console.warn(`[vectors] ${vectorsDir} not found: skipping the reference-vector tests`);
  }
  return !vectorsAvailable;
}

/** Vector names (without extension): every expected/*.json, or the known list when absent. */
export function vectorNames(): string[] {
  if (!vectorsAvailable) return [...KNOWN_VECTORS];
  return readdirSync(path.join(vectorsDir, 'expected'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** A fresh copy of the vector's bytes (safe to mutate). */
export function loadVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(vectorsDir, `${name}.igvm`)));
}

export interface ExpectedDump {
  ok: boolean;
  error?: string;
  error_debug?: string;
  file_size?: number;
  revision?: unknown;
  platform_headers?: unknown[];
  initialization_headers?: unknown[];
  directive_headers?: unknown[];
}

export function loadExpected(name: string): ExpectedDump {
  return JSON.parse(readFileSync(path.join(vectorsDir, 'expected', `${name}.json`), 'utf8')) as ExpectedDump;
}

// ---- byte editing ----

export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- adapter: our model -> the reference dump's shape ----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Integers as the dump writes them: a number up to 2^53-1, a decimal string above. */
export function int(v: number | bigint): number | string {
  const b = BigInt(v);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
}

/** A payload as the dump summarises it. */
export function summary(data: Uint8Array): { len: number; sha256: string; all_zero: boolean } {
  return {
    len: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
    all_zero: data.every((b) => b === 0),
  };
}

function payload(data: DataLike): Json {
  if (!(data instanceof Uint8Array)) {
    throw new Error('toReferenceShape needs resolved payloads (Uint8Array), not DataRefs');
  }
  return summary(data);
}

/** camelCase -> snake_case, the reference's field spelling (dr0AddrMask -> dr0_addr_mask). */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A little-endian byte array read as consecutive unsigned words of `width` bytes. */
function words(bytes: Uint8Array, width: 1 | 4 | 8): (number | string)[] {
  const dv = view(bytes);
  const out: (number | string)[] = [];
  for (let at = 0; at < bytes.length; at += width) {
    out.push(width === 1 ? dv.getUint8(at) : width === 4 ? dv.getUint32(at, true) : int(dv.getBigUint64(at, true)));
  }
  return out;
}

function vtlName(vtl: number): string {
  return `Vtl${vtl}`;
}

export function revisionToReference(r: IgvmRevision): Json {
  if (r.formatVersion === 1) return 'V1';
  return { _type: 'V2', arch: r.architecture === 'X64' ? 'X64' : 'AArch64', page_size: r.pageSize };
}

export function platformToReference(h: PlatformHeader): Json {
  return {
    _type: 'SupportedPlatform',
    _0: {
      _type: 'IGVM_VHS_SUPPORTED_PLATFORM',
      compatibility_mask: h.compatibilityMask,
      highest_vtl: h.highestVtl,
      platform_type: h.platformType,
      platform_version: h.platformVersion,
      shared_gpa_boundary: int(h.sharedGpaBoundary),
    },
  };
}

export function initializationToReference(h: InitializationHeader<DataLike>): Json {
  switch (h.type) {
    case 'GUEST_POLICY':
      return { _type: 'GuestPolicy', policy: int(h.policy), compatibility_mask: h.compatibilityMask };
    case 'RELOCATABLE_REGION':
      return {
        _type: 'RelocatableRegion',
        compatibility_mask: h.compatibilityMask,
        relocation_alignment: int(h.relocationAlignment),
        relocation_region_gpa: int(h.relocationRegionGpa),
        relocation_region_size: int(h.relocationRegionSize),
        minimum_relocation_gpa: int(h.minimumRelocationGpa),
        maximum_relocation_gpa: int(h.maximumRelocationGpa),
        is_vtl2: h.isVtl2,
        apply_rip_offset: h.applyRip,
        apply_gdtr_offset: h.applyGdtr,
        vp_index: h.vpIndex,
        vtl: vtlName(h.vtl),
      };
    // Not in any vector: shape inferred from the reference's enum variant.
    case 'PAGE_TABLE_RELOCATION_REGION':
      return {
        _type: 'PageTableRelocationRegion',
        compatibility_mask: h.compatibilityMask,
        gpa: int(h.gpa),
        size: int(h.size),
        used_size: int(h.usedSize),
        vp_index: h.vpIndex,
        vtl: vtlName(h.vtl),
      };
    case 'CORIM_DOCUMENT':
    case 'CORIM_SIGNATURE':
      return {
        _type: h.type === 'CORIM_DOCUMENT' ? 'CorimDocument' : 'CorimSignature',
        compatibility_mask: h.compatibilityMask,
        data: payload(h.data),
      };
    case 'CCA_POLICY':
      return {
        _type: 'CcaPolicy',
        compatibility_mask: h.compatibilityMask,
        attributes_required_zeroes: int(h.attributesRequiredZeroes),
        attributes_required_ones: int(h.attributesRequiredOnes),
        hash_algorithm: CcaHashAlgorithm.name(h.hashAlgorithm) ?? h.hashAlgorithm,
        lfa_policy: CcaLfaPolicy.name(h.lfaPolicy) ?? h.lfaPolicy,
      };
  }
}

const PARAMETER_USAGE_VARIANT: Record<string, string> = {
  VP_COUNT_PARAMETER: 'VpCount',
  SRAT: 'Srat',
  MADT: 'Madt',
  MMIO_RANGES: 'MmioRanges',
  MEMORY_MAP: 'MemoryMap',
  COMMAND_LINE: 'CommandLine',
  SLIT: 'Slit',
  PPTT: 'Pptt',
  DEVICE_TREE: 'DeviceTree',
  ENVIRONMENT_INFO_PARAMETER: 'EnvironmentInfo',
};

export function directiveToReference(h: DirectiveHeader<DataLike>): Json {
  switch (h.type) {
    case 'PAGE_DATA':
      return {
        _type: 'PageData',
        gpa: int(h.gpa),
        compatibility_mask: h.compatibilityMask,
        flags: {
          _type: 'IgvmPageDataFlags',
          is_2mb_page: h.flags.is2mbPage,
          unmeasured: h.flags.unmeasured,
          shared: h.flags.shared,
          // Our model keeps the reserved bits in place (bits 3..31); the reference's bitfield
          // struct holds them shifted down to bit 0.
          reserved: h.flags.reserved >>> 3,
        },
        data_type: h.dataType,
        data: payload(h.data),
      };
    case 'PARAMETER_AREA':
      return {
        _type: 'ParameterArea',
        number_of_bytes: int(h.numberOfBytes),
        parameter_area_index: h.parameterAreaIndex,
        initial_data: payload(h.initialData),
      };
    case 'PARAMETER_INSERT':
      return {
        _type: 'ParameterInsert',
        _0: {
          _type: 'IGVM_VHS_PARAMETER_INSERT',
          gpa: int(h.gpa),
          compatibility_mask: h.compatibilityMask,
          parameter_area_index: h.parameterAreaIndex,
        },
      };
    case 'REQUIRED_MEMORY':
      return {
        _type: 'RequiredMemory',
        gpa: int(h.gpa),
        compatibility_mask: h.compatibilityMask,
        number_of_bytes: h.numberOfBytes,
        vtl2_protectable: h.vtl2Protectable,
      };
    // The next three are in no vector: shapes inferred from the reference's enum variants.
    case 'ERROR_RANGE':
      return { _type: 'ErrorRange', gpa: int(h.gpa), compatibility_mask: h.compatibilityMask, size_bytes: h.sizeBytes };
    case 'SNP_ID_BLOCK': {
      const { type: _type, ...fields } = h;
      return { _type: 'SnpIdBlock', ...genericFields(fields) };
    }
    case 'VBS_MEASUREMENT': {
      const { type: _type, ...fields } = h;
      return { _type: 'VbsMeasurement', ...genericFields(fields) };
    }
    case 'VP_CONTEXT': {
      const c = h.context;
      switch (c.format) {
        case 'native-x64':
          return {
            _type: 'X64NativeVpContext',
            compatibility_mask: h.compatibilityMask,
            vp_index: h.vpIndex,
            context: nativeContextToReference(c.registers),
          };
        case 'sev-vmsa':
          return {
            _type: 'SnpVpContext',
            gpa: int(h.gpa),
            compatibility_mask: h.compatibilityMask,
            vp_index: h.vpIndex,
            vmsa: vmsaToReference(c.vmsa),
          };
        case 'cca':
          return {
            _type: 'AArch64CcaVpContext',
            compatibility_mask: h.compatibilityMask,
            vp_index: h.vpIndex,
            context: { _type: 'IgvmVpContextAArch64Cca', ...genericFields(c.registers) },
          };
        case 'vbs-x64':
        case 'vbs-aarch64':
          return {
            _type: c.format === 'vbs-x64' ? 'X64VbsVpContext' : 'AArch64VbsVpContext',
            vtl: vtlName(c.vtl),
            registers: c.registers.map(vbsRegisterToReference),
            compatibility_mask: h.compatibilityMask,
          };
        case 'raw':
          throw new Error('raw VP contexts (lenient parses only) have no reference counterpart');
      }
    }
  }
  // Parameter usages (IGVM_VHS_PARAMETER bodies).
  const variant = PARAMETER_USAGE_VARIANT[h.type];
  if (!variant) throw new Error(`no reference variant for ${h.type}`);
  return {
    _type: variant,
    _0: { _type: 'IGVM_VHS_PARAMETER', parameter_area_index: h.parameterAreaIndex, byte_offset: h.byteOffset },
  };
}

/** Plain fields: numbers as they are, bigints through `int`, byte arrays as lists of bytes. */
function genericFields(fields: Record<string, unknown>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'bigint') out[snake(k)] = int(v);
    else if (typeof v === 'number') out[snake(k)] = v;
    else if (v instanceof Uint8Array) out[snake(k)] = Array.from(v);
    else throw new Error(`unexpected field ${k}`);
  }
  return out;
}

function nativeContextToReference(r: NativeVpContextX64Fields): Json {
  const { reserved0, reserved1, ...rest } = r;
  return { _type: 'IgvmNativeVpContextX64', ...genericFields(rest), reserved: [reserved0, reserved1] };
}

function vbsRegisterToReference(r: VbsRegister): Json {
  const v = r.value;
  const name = r.name;
  switch (v.kind) {
    case 'scalar':
      return { _type: name, _0: int(v.value) };
    case 'table':
      return { _type: name, _0: { _type: 'TableRegister', base: int(v.base), limit: v.limit } };
    // Not in any vector: the reference's SegmentRegister struct.
    case 'segment':
      return {
        _type: name,
        _0: { _type: 'SegmentRegister', base: int(v.base), limit: v.limit, selector: v.selector, attributes: v.attributes },
      };
  }
}

/** The reference's u64 / u32 arrays that our VMSA layout keeps as raw bytes. */
const VMSA_RESERVED_WIDTH: Record<string, 1 | 4 | 8> = {
  reserved1: 1,
  reserved3: 4,
  reserved4: 8,
  reserved5: 8,
  reserved6: 8,
  reserved7: 4,
  reserved9: 8,
};

const SEV_FEATURE_NAMES: Record<string, string> = {
  snp: 'snp',
  vtom: 'vtom',
  reflectVc: 'reflect_vc',
  restrictInjection: 'restrict_injection',
  alternateInjection: 'alternate_injection',
  debugSwap: 'debug_swap',
  preventHostIbs: 'prevent_host_ibs',
  snpBtbIsolation: 'snp_btb_isolation',
  vmplSupervisorShadowStack: 'vmpl_supervisor_shadow_stack',
  secureTsc: 'secure_tsc',
  vmsaRegProtection: 'vmsa_reg_protection',
  smtProtection: 'smt_protection',
};

function xmm(bytes: Uint8Array): Json[] {
  const dv = view(bytes);
  const out: Json[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    out.push({ _type: 'SevXmmRegister', low: int(dv.getBigUint64(at, true)), high: int(dv.getBigUint64(at + 8, true)) });
  }
  return out;
}

export function vmsaToReference(v: SevVmsaFields): Json {
  const fields = { ...v } as Record<string, unknown>;
  const take = <T>(name: string): T => {
    if (!(name in fields)) throw new Error(`VMSA field ${name} missing from our model`);
    const value = fields[name] as T;
    delete fields[name];
    return value;
  };
  const out: Record<string, Json> = { _type: 'SevVmsa' };
  for (const seg of VMSA_SEGMENTS) {
    out[seg] = {
      _type: 'SevSelector',
      selector: take<number>(`${seg}Selector`),
      attrib: take<number>(`${seg}Attrib`),
      limit: take<number>(`${seg}Limit`),
      base: int(take<bigint>(`${seg}Base`)),
    };
  }
  for (const [name, width] of Object.entries(VMSA_RESERVED_WIDTH)) {
    out[`vmsa_${name}`] = words(take<Uint8Array>(name), width);
  }
  out['vmsa_reserved2'] = int(take<number>('reserved2'));
  out['vmsa_reserved8'] = int(take<bigint>('reserved8'));
  out['vmsa_padding'] = words(take<Uint8Array>('padding'), 1);

  const features = SevFeatures.decode(take<bigint>('sevFeatures')) as unknown as Record<string, boolean>;
  out['sev_features'] = { _type: 'SevFeatures' };
  for (const [ours, theirs] of Object.entries(SEV_FEATURE_NAMES)) {
    (out['sev_features'] as Record<string, Json>)[theirs] = features[ours] as boolean;
  }
  out['v_intr_cntrl'] = { _type: 'SevVirtualInterruptControl', _0: int(take<bigint>('vIntrCntrl')) };
  out['event_inject'] = { _type: 'SevEventInjectInfo', _0: int(take<bigint>('eventInject')) };
  out['xsave_valid_bitmap'] = words(take<Uint8Array>('xsaveValidBitmap'), 1);
  const x87 = take<Uint8Array>('x87Registers');
  out['x87_registers1'] = words(x87.subarray(0, 32), 1);
  out['x87_registers2'] = words(x87.subarray(32, 64), 1);
  out['x87_registers3'] = words(x87.subarray(64, 80), 1);
  out['xmm_registers'] = xmm(take<Uint8Array>('xmmRegisters'));
  out['ymm_registers'] = xmm(take<Uint8Array>('ymmRegisters'));
  out['x87dp'] = int(take<bigint>('x87Dp'));

  // Everything left is a plain scalar whose reference name is the snake_case of ours.
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error(`VMSA field ${name} not mapped`);
    out[snake(name)] = int(value);
  }
  return out;
}

/** Our parse result in the shape of the reference dump (without the dump's `tool` line). */
export function toReferenceShape(parsed: IgvmFile<DataLike> & { fileSize?: number }): Record<string, Json> {
  const out: Record<string, Json> = {
    ok: true,
    revision: revisionToReference(parsed.revision),
    platform_headers: parsed.platforms.map(platformToReference),
    initialization_headers: parsed.initializations.map(initializationToReference),
    directive_headers: parsed.directives.map(directiveToReference),
  };
  if (parsed.fileSize !== undefined) out['file_size'] = parsed.fileSize;
  return out;
}

// ---- error mapping ----

const WRAPPERS = /^InvalidBinary(?:Platform|Initialization|Directive)Header\((.*)\)$/s;

/**
 * Our error code for a reference error's Debug text: the wrapped BinaryHeaderError's variant name
 * (`InvalidBinaryDirectiveHeader(UnalignedAddress(4112))` -> `UnalignedAddress`), or the variant
 * name of a top-level error (`InvalidChecksum { .. }` -> `InvalidChecksum`).
 */
export function referenceErrorCode(debug: string): string {
  let s = debug.trim();
  for (let m = WRAPPERS.exec(s); m; m = WRAPPERS.exec(s)) s = m[1]!.trim();
  const id = /^[A-Za-z0-9_]+/.exec(s);
  if (!id) throw new Error(`cannot read a variant name from ${debug}`);
  return id[0];
}

/** A Blob over `bytes` (for the lazy parser's `blobSource`). */
export function toBlob(bytes: Uint8Array): Blob {
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}
