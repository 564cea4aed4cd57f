/**
 * One codec per variable-header type: its type code, body size, and how its body (plus any file data
 * it points to) turns into a model header and back. To add a header type, add an entry here and a
 * variant in model.ts; parse.ts and serialize.ts dispatch through this table.
 */
import {
  HeaderType,
  PAGE_SIZE_4K,
  PageDataType,
  PARAMETER_USAGE_TYPES,
  PlatformType,
  type ArchitectureName,
  type HeaderTypeName,
  type ParameterUsageType,
  type PlatformTypeName,
} from './constants.js';
import { PageDataFlags, RelocationFlags, RequiredMemoryFlags } from './bitfields.js';
import { hex, type IgvmErrorCode } from './errors.js';
import type { FieldSpec, StructLayout, StructValue } from './layout.js';
import type {
  DataLike,
  IgvmHeader,
  VbsRegister,
  VbsRegisterValue,
  VpContext,
  VpContextHeader,
} from './model.js';
import * as S from './structs.js';
import { SevVmsa } from './vmsa.js';
import { vbsRegisterByCode, vbsRegisterByName } from './vbs-registers.js';

export interface DecodeContext<D extends DataLike> {
  readonly arch: ArchitectureName;
  readonly lenient: boolean;
  /** The platform type whose mask equals `mask` exactly, if one was declared. */
  platformOfMask(mask: number): PlatformTypeName | undefined;
  /** A payload of `length` bytes at absolute `fileOffset` (bounds-checked): a view or a reference. */
  payload(fileOffset: number, length: number | bigint, what: string): D;
  /** The real bytes at `fileOffset` (bounds-checked), for payloads that must be decoded now. */
  bytes(fileOffset: number, length: number, what: string): Uint8Array;
  /** An empty payload (file_offset 0). */
  empty(): D;
  fail(code: IgvmErrorCode, detail: string): never;
}

export interface EncodeContext {
  /** Append a blob to the file data section (deduplicated), zero-padded to `paddedLength`; returns its offset. */
  writeData(bytes: Uint8Array, paddedLength: number): number;
  fail(code: IgvmErrorCode, detail: string): never;
}

export interface HeaderCodec<H extends IgvmHeader<DataLike> = IgvmHeader<DataLike>> {
  readonly code: number;
  readonly bodySize: number;
  /** Decode the body at `offset` in `bytes` (the variable header section). */
  decode(bytes: Uint8Array, offset: number, ctx: DecodeContext<DataLike>): H;
  encode(header: H, body: Uint8Array, ctx: EncodeContext): void;
}

type HeaderOf<T extends HeaderTypeName> = Extract<IgvmHeader<DataLike>, { readonly type: T }>;

function codec<T extends HeaderTypeName, F extends readonly FieldSpec[]>(
  type: T,
  layout: StructLayout<F>,
  decode: (body: StructValue<F>, ctx: DecodeContext<DataLike>) => HeaderOf<T>,
  encode: (header: HeaderOf<T>, body: Uint8Array, ctx: EncodeContext) => void,
): HeaderCodec<HeaderOf<T>> {
  return {
    code: HeaderType[type],
    bodySize: layout.size,
    decode: (bytes, offset, ctx) => decode(layout.read(bytes, offset), ctx),
    encode,
  };
}

function requireZero(ctx: DecodeContext<DataLike>, field: string, value: number | bigint | Uint8Array): void {
  const nonZero = value instanceof Uint8Array ? value.some((b) => b !== 0) : value !== 0 && value !== 0n;
  if (nonZero) ctx.fail('ReservedNotZero', `${field} must be zero`);
}

/** Offset of a payload, or 0 when the payload is empty. */
function dataOffset(ctx: EncodeContext, data: DataLike, padTo: number): number {
  if (data.length === 0) return 0;
  if (!(data instanceof Uint8Array)) {
    return ctx.fail('InvalidModel', 'payloads must be Uint8Array to be written (lazy payloads are read-only)');
  }
  return ctx.writeData(data, padTo);
}

const ZERO6 = new Uint8Array(6);

const supportedPlatform = codec(
  'SUPPORTED_PLATFORM',
  S.SupportedPlatform,
  (r, ctx) => {
    const platformType =
      PlatformType.name(r.platformType) ?? ctx.fail('InvalidPlatformType', `unknown platform type ${r.platformType}`);
    return {
      type: 'SUPPORTED_PLATFORM',
      compatibilityMask: r.compatibilityMask,
      highestVtl: r.highestVtl,
      platformType,
      platformVersion: r.platformVersion,
      sharedGpaBoundary: r.sharedGpaBoundary,
    };
  },
  (h, body) =>
    S.SupportedPlatform.write(
      {
        compatibilityMask: h.compatibilityMask,
        highestVtl: h.highestVtl,
        platformType: PlatformType.values[h.platformType],
        platformVersion: h.platformVersion,
        sharedGpaBoundary: h.sharedGpaBoundary,
      },
      body,
    ),
);

const guestPolicy = codec(
  'GUEST_POLICY',
  S.GuestPolicy,
  (r, ctx) => {
    requireZero(ctx, 'reserved', r.reserved);
    return { type: 'GUEST_POLICY', policy: r.policy, compatibilityMask: r.compatibilityMask };
  },
  (h, body) => S.GuestPolicy.write({ policy: h.policy, compatibilityMask: h.compatibilityMask, reserved: 0 }, body),
);

const relocatableRegion = codec(
  'RELOCATABLE_REGION',
  S.RelocatableRegion,
  ({ flags, ...r }) => {
    const f = RelocationFlags.decode(flags);
    return { type: 'RELOCATABLE_REGION', ...r, isVtl2: f.isVtl2, applyRip: f.applyRip, applyGdtr: f.applyGdtr };
  },
  (h, body) => {
    const { type: _type, isVtl2, applyRip, applyGdtr, ...rest } = h;
    S.RelocatableRegion.write({ ...rest, flags: RelocationFlags.encode({ isVtl2, applyRip, applyGdtr }) }, body);
  },
);

const pageTableRelocation = codec(
  'PAGE_TABLE_RELOCATION_REGION',
  S.PageTableRelocation,
  ({ reserved, ...r }, ctx) => {
    requireZero(ctx, 'reserved', reserved);
    return { type: 'PAGE_TABLE_RELOCATION_REGION', ...r };
  },
  (h, body) => {
    const { type: _type, ...rest } = h;
    S.PageTableRelocation.write({ ...rest, reserved: 0 }, body);
  },
);

function corim(type: 'CORIM_DOCUMENT' | 'CORIM_SIGNATURE') {
  return codec(
    type,
    S.CorimData,
    (r, ctx) => {
      requireZero(ctx, 'reserved', r.reserved);
      const data = r.fileOffset === 0 ? ctx.empty() : ctx.payload(r.fileOffset, r.sizeBytes, 'CoRIM payload');
      return { type, compatibilityMask: r.compatibilityMask, data } as HeaderOf<typeof type>;
    },
    (h, body, ctx) => {
      const fileOffset = dataOffset(ctx, h.data, h.data.length);
      S.CorimData.write({ compatibilityMask: h.compatibilityMask, fileOffset, sizeBytes: h.data.length, reserved: 0 }, body);
    },
  );
}

const ccaPolicy = codec(
  'CCA_POLICY',
  S.CcaPolicy,
  ({ reserved, reserved2, ...r }, ctx) => {
    requireZero(ctx, 'reserved', reserved);
    requireZero(ctx, 'reserved2', reserved2);
    return { type: 'CCA_POLICY', ...r };
  },
  (h, body) => {
    const { type: _type, ...rest } = h;
    S.CcaPolicy.write({ ...rest, reserved: 0, reserved2: ZERO6 }, body);
  },
);

const parameterArea = codec(
  'PARAMETER_AREA',
  S.ParameterArea,
  (r, ctx) => {
    const initialData =
      r.fileOffset === 0 ? ctx.empty() : ctx.payload(r.fileOffset, r.numberOfBytes, 'parameter area data');
    return {
      type: 'PARAMETER_AREA',
      numberOfBytes: r.numberOfBytes,
      parameterAreaIndex: r.parameterAreaIndex,
      initialData,
    };
  },
  (h, body, ctx) => {
    if (h.numberOfBytes > 0xffff_ffffn) ctx.fail('TooLarge', `parameter area of ${h.numberOfBytes} bytes`);
    const fileOffset = dataOffset(ctx, h.initialData, Number(h.numberOfBytes));
    S.ParameterArea.write(
      { numberOfBytes: h.numberOfBytes, parameterAreaIndex: h.parameterAreaIndex, fileOffset },
      body,
    );
  },
);

const pageData = codec(
  'PAGE_DATA',
  S.PageData,
  (r, ctx) => {
    const dataType =
      PageDataType.name(r.dataType) ??
      ctx.fail('InvalidPageDataType', `data_type ${r.dataType} is not one of NORMAL, SECRETS, CPUID_DATA, CPUID_XF`);
    requireZero(ctx, 'reserved', r.reserved);
    const data = r.fileOffset === 0 ? ctx.empty() : ctx.payload(r.fileOffset, PAGE_SIZE_4K, 'page data');
    return {
      type: 'PAGE_DATA',
      gpa: r.gpa,
      compatibilityMask: r.compatibilityMask,
      flags: PageDataFlags.decode(r.flags),
      dataType,
      data,
    };
  },
  (h, body, ctx) => {
    if (h.data.length > PAGE_SIZE_4K) ctx.fail('InvalidDataSize', `page data of ${h.data.length} bytes exceeds 4096`);
    const fileOffset = dataOffset(ctx, h.data, PAGE_SIZE_4K);
    S.PageData.write(
      {
        gpa: h.gpa,
        compatibilityMask: h.compatibilityMask,
        fileOffset,
        flags: PageDataFlags.encode(h.flags),
        dataType: PageDataType.values[h.dataType],
        reserved: 0,
      },
      body,
    );
  },
);

const parameterInsert = codec(
  'PARAMETER_INSERT',
  S.ParameterInsert,
  (r) => ({ type: 'PARAMETER_INSERT', ...r }),
  (h, body) => {
    const { type: _type, ...rest } = h;
    S.ParameterInsert.write(rest, body);
  },
);

function parameterUsage(type: ParameterUsageType): HeaderCodec {
  return codec(
    type,
    S.Parameter,
    (r) => ({ type, ...r }) as HeaderOf<typeof type>,
    (h, body) => S.Parameter.write({ parameterAreaIndex: h.parameterAreaIndex, byteOffset: h.byteOffset }, body),
  ) as HeaderCodec;
}

const requiredMemory = codec(
  'REQUIRED_MEMORY',
  S.RequiredMemory,
  (r, ctx) => {
    requireZero(ctx, 'reserved', r.reserved);
    const flags = RequiredMemoryFlags.decode(r.flags);
    return {
      type: 'REQUIRED_MEMORY',
      gpa: r.gpa,
      compatibilityMask: r.compatibilityMask,
      numberOfBytes: r.numberOfBytes,
      vtl2Protectable: flags.vtl2Protectable,
      reservedFlags: flags.reserved,
    };
  },
  (h, body) =>
    S.RequiredMemory.write(
      {
        gpa: h.gpa,
        compatibilityMask: h.compatibilityMask,
        numberOfBytes: h.numberOfBytes,
        flags: RequiredMemoryFlags.encode({ vtl2Protectable: h.vtl2Protectable, reserved: h.reservedFlags }),
        reserved: 0,
      },
      body,
    ),
);

const errorRange = codec(
  'ERROR_RANGE',
  S.ErrorRange,
  (r) => ({ type: 'ERROR_RANGE', ...r }),
  (h, body) => {
    const { type: _type, ...rest } = h;
    S.ErrorRange.write(rest, body);
  },
);

const snpIdBlock = codec(
  'SNP_ID_BLOCK',
  S.SnpIdBlock,
  (r) => ({ type: 'SNP_ID_BLOCK', ...r }),
  (h, body) => {
    const { type: _type, ...rest } = h;
    S.SnpIdBlock.write(rest, body);
  },
);

const vbsMeasurement = codec(
  'VBS_MEASUREMENT',
  S.VbsMeasurement,
  (r) => ({ type: 'VBS_MEASUREMENT', ...r }),
  (h, body) => {
    const { type: _type, ...rest } = h;
    S.VbsMeasurement.write(rest, body);
  },
);

// ---- VP context ----

const CONTEXT_PAGE = PAGE_SIZE_4K;
const VBS_REGISTER_SIZE = S.VbsVpContextRegister.size;

function decodeFixedContext(
  ctx: DecodeContext<DataLike>,
  fileOffset: number,
  size: number,
  what: string,
): Uint8Array {
  const page = ctx.bytes(fileOffset, CONTEXT_PAGE, what);
  for (let i = size; i < CONTEXT_PAGE; i++) {
    if (page[i] !== 0) ctx.fail('InvalidContext', `${what} byte ${i} is not zero (the context is ${size} bytes, the rest of its page must be zero)`);
  }
  return page;
}

function decodeVbsContext(
  ctx: DecodeContext<DataLike>,
  fileOffset: number,
  vpIndex: number,
): VpContext {
  const header = ctx.bytes(fileOffset, S.VbsVpContextHeader.size, 'VBS context header');
  const count = S.VbsVpContextHeader.read(header).registerCount;
  if (count === 0) ctx.fail('NoVbsVpContextRegisters', 'VBS context has no registers');
  if (vpIndex !== 0) ctx.fail('InvalidVbsContext', `VBS context vp_index ${vpIndex}: only vp_index 0 is supported`);
  // bytes() checks the whole register array against the file before anything is allocated for it.
  const regs = ctx.bytes(fileOffset + 4, count * VBS_REGISTER_SIZE, `VBS context (${count} registers)`);
  const arch = ctx.arch;
  let vtl = -1;
  const registers: VbsRegister[] = [];
  for (let i = 0; i < count; i++) {
    const r = S.VbsVpContextRegister.read(regs, i * VBS_REGISTER_SIZE);
    if (r.vtl > 2) ctx.fail('InvalidVtl', `VBS register ${i} has VTL ${r.vtl}; VTLs are 0, 1 and 2`);
    if (vtl === -1) vtl = r.vtl;
    else if (r.vtl !== vtl) ctx.fail('InvalidVbsContext', `VBS register ${i} has VTL ${r.vtl}, register 0 has VTL ${vtl}`);
    const spec =
      vbsRegisterByCode(arch, r.registerName) ??
      ctx.fail(
        arch === 'X64' ? 'UnsupportedX64Register' : 'UnsupportedAArch64Register',
        `VBS register ${i}: register name ${hex(r.registerName)} is not supported on ${arch}`,
      );
    registers.push({ name: spec.name, value: decodeVbsValue(spec.kind, r.registerValue) });
  }
  return { format: arch === 'X64' ? 'vbs-x64' : 'vbs-aarch64', vtl, registers };
}

function decodeVbsValue(kind: 'scalar' | 'segment' | 'table', raw: Uint8Array): VbsRegisterValue {
  switch (kind) {
    case 'scalar':
      return { kind, value: new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0, true) };
    case 'segment':
      return { kind, ...S.HvSegmentRegister.read(raw) };
    case 'table': {
      const t = S.HvTableRegister.read(raw);
      return { kind, base: t.base, limit: t.limit };
    }
  }
}

/** The 16-byte HV_REGISTER_VALUE of a VBS register (also what the VBS boot digest hashes). */
export function encodeVbsValue(value: VbsRegisterValue): Uint8Array {
  switch (value.kind) {
    case 'scalar': {
      const out = new Uint8Array(16);
      new DataView(out.buffer).setBigUint64(0, value.value, true);
      return out;
    }
    case 'segment':
      return S.HvSegmentRegister.encode(value);
    case 'table':
      return S.HvTableRegister.encode({ pad: ZERO6, limit: value.limit, base: value.base });
  }
}

function encodeVbsContext(
  context: Extract<VpContext, { format: 'vbs-x64' | 'vbs-aarch64' }>,
  ctx: EncodeContext,
): Uint8Array {
  const arch = context.format === 'vbs-x64' ? 'X64' : 'AARCH64';
  const out = new Uint8Array(4 + context.registers.length * VBS_REGISTER_SIZE);
  S.VbsVpContextHeader.write({ registerCount: context.registers.length }, out);
  context.registers.forEach((reg, i) => {
    const spec =
      vbsRegisterByName(arch, reg.name) ??
      ctx.fail(arch === 'X64' ? 'UnsupportedX64Register' : 'UnsupportedAArch64Register', `register ${reg.name} on ${arch}`);
    if (spec.kind !== reg.value.kind) ctx.fail('InvalidModel', `register ${reg.name} takes a ${spec.kind} value`);
    S.VbsVpContextRegister.write(
      { vtl: context.vtl, registerName: spec.code, mbz: new Uint8Array(11), registerValue: encodeVbsValue(reg.value) },
      out,
      4 + i * VBS_REGISTER_SIZE,
    );
  });
  return out;
}

const vpContext = codec(
  'VP_CONTEXT',
  S.VpContextHeader,
  (r, ctx): VpContextHeader => {
    const platform = ctx.platformOfMask(r.compatibilityMask);
    const base = { type: 'VP_CONTEXT', compatibilityMask: r.compatibilityMask, vpIndex: r.vpIndex } as const;
    switch (platform) {
      case 'NATIVE':
      case 'SEV': {
        const page = decodeFixedContext(ctx, r.fileOffset, S.NativeVpContextX64.size, 'native VP context');
        return { ...base, gpa: r.gpa, context: { format: 'native-x64', registers: S.NativeVpContextX64.read(page) } };
      }
      case 'SEV_SNP':
      case 'SEV_ES': {
        const page = ctx.bytes(r.fileOffset, CONTEXT_PAGE, 'VMSA');
        return { ...base, gpa: r.gpa, context: { format: 'sev-vmsa', vmsa: SevVmsa.read(page) } };
      }
      case 'CCA': {
        const page = decodeFixedContext(ctx, r.fileOffset, S.CcaVpContext.size, 'CCA VP context');
        return { ...base, gpa: r.gpa, context: { format: 'cca', registers: S.CcaVpContext.read(page) } };
      }
      case 'VSM_ISOLATION':
        return { ...base, gpa: r.gpa, context: decodeVbsContext(ctx, r.fileOffset, r.vpIndex) };
      default: {
        const why =
          platform === 'TDX'
            ? 'TDX has an architectural reset state and takes no VP context'
            : `compatibility_mask ${hex(r.compatibilityMask)} does not equal the mask of one declared platform`;
        if (!ctx.lenient) ctx.fail('InvalidVpContextPlatformType', why);
        const bytes = ctx.bytes(r.fileOffset, CONTEXT_PAGE, 'VP context');
        return { ...base, gpa: r.gpa, context: { format: 'raw', bytes } };
      }
    }
  },
  (h, body, ctx) => {
    const c = h.context;
    let blob: Uint8Array;
    let gpa = 0n;
    let vpIndex = h.vpIndex;
    switch (c.format) {
      case 'native-x64':
        blob = S.NativeVpContextX64.encode(c.registers);
        break;
      case 'cca':
        blob = S.CcaVpContext.encode(c.registers);
        break;
      case 'sev-vmsa':
        blob = SevVmsa.encode(c.vmsa);
        gpa = h.gpa;
        break;
      case 'raw':
        blob = c.bytes;
        gpa = h.gpa;
        break;
      case 'vbs-x64':
      case 'vbs-aarch64':
        blob = encodeVbsContext(c, ctx);
        vpIndex = 0;
        break;
    }
    const padTo = c.format === 'vbs-x64' || c.format === 'vbs-aarch64' ? blob.length : CONTEXT_PAGE;
    const fileOffset = ctx.writeData(blob, padTo);
    S.VpContextHeader.write(
      { gpa, compatibilityMask: h.compatibilityMask, fileOffset, vpIndex, reserved: 0 },
      body,
    );
  },
);

const CODECS: readonly HeaderCodec[] = [
  supportedPlatform,
  guestPolicy,
  relocatableRegion,
  pageTableRelocation,
  corim('CORIM_DOCUMENT'),
  corim('CORIM_SIGNATURE'),
  ccaPolicy,
  parameterArea,
  pageData,
  parameterInsert,
  vpContext,
  requiredMemory,
  errorRange,
  snpIdBlock,
  vbsMeasurement,
  ...PARAMETER_USAGE_TYPES.map(parameterUsage),
] as readonly HeaderCodec[];

const byCode = new Map(CODECS.map((c) => [c.code, c]));

export function codecForCode(code: number): HeaderCodec | undefined {
  return byCode.get(code);
}

export function codecFor(header: IgvmHeader<DataLike>): HeaderCodec {
  const c = byCode.get(HeaderType[header.type]);
  if (!c) throw new Error(`no codec for ${header.type}`);
  return c;
}
