/**
 * `igvm build MANIFEST`: turn a checked manifest into an IGVM file. Payloads become pages (ELF files
 * by their PT_LOAD segments at their physical addresses), the boot CPU context is made from a preset
 * plus register overrides, and for `long64` the builder adds identity page tables and a GDT at GPAs
 * the manifest gives or that it chooses. Same inputs, same bytes.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  checkNativeContext,
  longMode64Context,
  protectedMode32Context,
  realModeResetContext,
} from '../arch/x86/index.js';
import {
  IgvmBuilder,
  type NativeVpContextX64Fields,
  type PageDataTypeName,
  type PlatformTypeName,
} from '../format/index.js';
import { LOADER_NAMES } from '../loader/index.js';
import { readElf, type ElfImage } from './elf.js';
import { checkBuiltFile } from './loader-check.js';
import { putBytes, sortedPages, type Pages } from './pages.js';
import { flatGdt64, GDT_SELECTORS, identityPageTables } from './long-mode.js';
import { ManifestError, PARAMETER_KINDS, parseManifest, type ManifestValue, type PayloadValue } from './manifest.js';

const PAGE = 4096n;

export interface BuildSummary {
  readonly pages: number;
  readonly entry?: bigint;
  readonly preset?: string;
  readonly pageTables?: { readonly gpa: bigint; readonly size: bigint };
  readonly gdt?: bigint;
}

export interface BuildResult {
  readonly bytes: Uint8Array;
  readonly summary: BuildSummary;
}

const PLATFORM: Record<ManifestValue['platforms'][number], PlatformTypeName> = {
  native: 'NATIVE',
  'sev-snp': 'SEV_SNP',
  tdx: 'TDX',
  vbs: 'VSM_ISOLATION',
};

const DATA_TYPE: Record<PayloadValue['dataType'], PageDataTypeName> = {
  normal: 'NORMAL',
  secrets: 'SECRETS',
  'cpuid-data': 'CPUID_DATA',
  'cpuid-xf': 'CPUID_XF',
};

interface Loaded {
  readonly pages: Pages;
  readonly elf?: ElfImage;
}

export async function buildFromManifest(manifestPath: string): Promise<BuildResult> {
  const source = path.basename(manifestPath);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (e) {
    throw new ManifestError(source, '', `cannot read the manifest: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const manifest = parseManifest(text, source);
  const dir = path.dirname(manifestPath);
  const fail = (jsonPath: string, detail: string): never => {
    throw new ManifestError(source, jsonPath, detail);
  };
  const readInput = async (file: string, jsonPath: string): Promise<Uint8Array> => {
    try {
      return new Uint8Array(await readFile(path.resolve(dir, file)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return fail(jsonPath, `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
    }
  };

  // Payloads, page by page, with overlaps refused.
  const owner = new Map<bigint, number>();
  const loaded: Loaded[] = [];
  for (const [i, p] of manifest.payloads.entries()) {
    const pages: Pages = new Map();
    let elf: ElfImage | undefined;
    switch (p.type) {
      case 'flat': {
        const bytes = await readInput(p.file, `payloads[${i}].file`);
        putBytes(pages, p.gpa, bytes, BigInt(Math.max(bytes.length, 1)));
        break;
      }
      case 'elf': {
        const bytes = await readInput(p.file, `payloads[${i}].file`);
        try {
          elf = readElf(bytes, p.file);
        } catch (e) {
          return fail(`payloads[${i}].file`, (e as Error).message);
        }
        for (const seg of elf.segments) putBytes(pages, seg.gpa, seg.data, seg.memorySize);
        break;
      }
      case 'zero':
        putBytes(pages, p.gpa, new Uint8Array(0), p.size);
        break;
      case 'data': {
        const bytes = p.file !== undefined ? await readInput(p.file, `payloads[${i}].file`) : hexBytes(p.hex ?? '');
        putBytes(pages, p.gpa, bytes, BigInt(Math.max(bytes.length, 1)));
        break;
      }
    }
    for (const page of pages.keys()) {
      const prior = owner.get(page);
      if (prior !== undefined) fail(`payloads[${i}]`, `overlaps payloads[${prior}] at page 0x${page.toString(16)}`);
      owner.set(page, i);
    }
    loaded.push(elf ? { pages, elf } : { pages });
  }

  const b = new IgvmBuilder(manifest.revision === 'v1' ? { formatVersion: 1 } : { formatVersion: 2, architecture: 'X64', pageSize: 4096 });
  for (const [i, platform] of manifest.platforms.entries()) {
    if (manifest.platforms.indexOf(platform) !== i) fail(`platforms[${i}]`, `platform ${platform} is listed twice`);
    b.addPlatform(PLATFORM[platform]);
  }

  let summary: BuildSummary = { pages: 0 };
  if (manifest.boot) summary = addBoot(b, manifest, loaded, owner, fail);

  manifest.payloads.forEach((p, i) => {
    const { pages } = loaded[i]!;
    const options = { dataType: DATA_TYPE[p.dataType], unmeasured: p.unmeasured, shared: p.shared };
    for (const gpa of sortedPages(pages)) b.addPageData(gpa, pages.get(gpa)!, options);
  });

  for (const [i, area] of manifest.parameterAreas.entries()) {
    const initialData = area.initialData === undefined ? undefined : await readInput(area.initialData, `parameterAreas[${i}].initialData`);
    if (initialData && BigInt(initialData.length) > area.size) {
      fail(`parameterAreas[${i}].initialData`, `${initialData.length} bytes do not fit the area's ${area.size} bytes`);
    }
    const index = guard(`parameterAreas[${i}]`, fail, () =>
      b.addParameterArea(area.size, { ...(area.index === undefined ? {} : { index: area.index }), ...(initialData ? { initialData } : {}) }),
    );
    area.parameters.forEach((param, j) =>
      guard(`parameterAreas[${i}].parameters[${j}]`, fail, () => b.addParameter(PARAMETER_KINDS[param.type], index, param.offset)),
    );
    if (area.insertAt !== undefined) {
      const at = area.insertAt;
      for (let page = at; page < at + area.size; page += PAGE) {
        const prior = owner.get(page);
        if (prior !== undefined) fail(`parameterAreas[${i}].insertAt`, `the area at 0x${at.toString(16)} overlaps payloads[${prior}]`);
      }
      guard(`parameterAreas[${i}].insertAt`, fail, () => b.addParameterInsert(index, at));
    }
  }
  manifest.requiredMemory.forEach((r, i) =>
    guard(`requiredMemory[${i}]`, fail, () => {
      if (r.size > 0xffff_f000n) throw new Error('size must fit in 32 bits');
      b.addRequiredMemory(r.gpa, Number(r.size), { vtl2Protectable: r.vtl2Protectable });
    }),
  );

  const bytes = guard('', fail, () => b.serialize());
  const loaders = manifest.loaders ?? (manifest.platforms.includes('native') ? LOADER_NAMES : []);
  guard('loaders', fail, () => checkBuiltFile(bytes, loaders, 'the file'));
  return { bytes, summary: { ...summary, pages: b.build().directives.filter((d) => d.type === 'PAGE_DATA').length } };
}

function guard<T>(jsonPath: string, fail: (p: string, d: string) => never, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof ManifestError) throw e;
    return fail(jsonPath, (e as Error).message.replace(/^IgvmBuilder: /, ''));
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The lowest 4 KiB-aligned run of `size` bytes from 0x1000, below 640 KiB, that no payload uses. */
function allocate(owner: Map<bigint, number>, size: bigint, taken: bigint[]): bigint | undefined {
  const busy = (page: bigint) => owner.has(page) || taken.includes(page);
  for (let start = PAGE; start + size <= 0xa_0000n; start += PAGE) {
    let free = true;
    for (let p = start; p < start + size && free; p += PAGE) free = !busy(p);
    if (free) return start;
  }
  return undefined;
}

function addBoot(
  b: IgvmBuilder,
  manifest: ManifestValue,
  loaded: readonly Loaded[],
  owner: Map<bigint, number>,
  fail: (jsonPath: string, detail: string) => never,
): BuildSummary {
  const boot = manifest.boot!;
  const entry = resolveEntry(manifest, loaded, fail);
  const taken: bigint[] = [];
  const place = (jsonPath: string, given: bigint | undefined, size: bigint): bigint => {
    const gpa = given ?? allocate(owner, size, taken) ?? fail(jsonPath, 'no free space below 640 KiB: give a GPA');
    for (let p = gpa; p < gpa + size; p += PAGE) {
      const prior = owner.get(p);
      if (prior !== undefined) fail(jsonPath, `0x${gpa.toString(16)} (+0x${size.toString(16)}) overlaps payloads[${prior}]`);
      taken.push(p);
    }
    return gpa;
  };

  let context: NativeVpContextX64Fields;
  let summary: BuildSummary = { pages: 0, entry, preset: boot.preset };
  if (boot.preset === 'real16') {
    context = realModeResetContext();
    if (boot.entry !== undefined) {
      const base = entry & 0xffff_0000n;
      context = { ...context, codeBase: Number(base), codeSelector: Number((base >> 4n) & 0xffffn), rip: entry & 0xffffn };
    }
  } else {
    const gdt = flatGdt64();
    const gdtBase = place('boot.gdt', boot.gdt, PAGE);
    b.addPageData(gdtBase, gdt);
    summary = { ...summary, gdt: gdtBase };
    const stack = boot.stack === undefined ? {} : { stack: boot.stack };
    if (boot.preset === 'long64') {
      const tablesOptions = { pageSize: boot.pageTables?.pageSize ?? '2M', mapSize: boot.pageTables?.mapSize ?? 4n << 30n } as const;
      const size = BigInt(identityPageTables({ base: 0n, ...tablesOptions }).bytes.length);
      const base = place('boot.pageTables.gpa', boot.pageTables?.gpa, size);
      const tables = identityPageTables({ base, ...tablesOptions });
      b.addPageData(base, tables.bytes);
      summary = { ...summary, pageTables: { gpa: base, size } };
      context = guard('boot', fail, () => longMode64Context({ entry, cr3: tables.cr3, gdtrBase: gdtBase, gdtrLimit: gdt.length - 1, ...stack }));
    } else {
      context = guard('boot', fail, () =>
        protectedMode32Context({ entry, gdtrBase: gdtBase, gdtrLimit: gdt.length - 1, codeSelector: GDT_SELECTORS.code32, ...stack }),
      );
    }
  }
  for (const [name, value] of Object.entries(boot.registers ?? {})) {
    const field = name as keyof NativeVpContextX64Fields;
    const current = context[field];
    if (typeof current === 'bigint') context = { ...context, [field]: value };
    else {
      const max = SIXTEEN_BIT_FIELDS.has(field) ? 0xffffn : 0xffff_ffffn;
      if (value > max) fail(`boot.registers.${name}`, `must be at most 0x${max.toString(16)}`);
      context = { ...context, [field]: Number(value) };
    }
  }
  const problems = checkNativeContext(context);
  if (problems.length > 0) fail('boot', problems.join('; '));
  b.setNativeContext(context);
  return summary;
}

const SIXTEEN_BIT_FIELDS: ReadonlySet<string> = new Set([
  'idtrLimit',
  'gdtrLimit',
  'codeSelector',
  'codeAttributes',
  'dataSelector',
  'dataAttributes',
]);

function resolveEntry(manifest: ManifestValue, loaded: readonly Loaded[], fail: (p: string, d: string) => never): bigint {
  const entry = manifest.boot!.entry;
  if (typeof entry === 'bigint') return entry;
  const elves = loaded.flatMap((l, i) => (l.elf ? [{ elf: l.elf, i }] : []));
  if (entry !== undefined) {
    for (const { elf } of elves) {
      const v = elf.symbols.get(entry.symbol);
      if (v !== undefined) return v;
    }
    return fail('boot.entry.symbol', `symbol "${entry.symbol}" is not defined in any ELF payload`);
  }
  if (elves[0]) return elves[0].elf.entry;
  const flat = manifest.payloads.find((p) => p.type === 'flat');
  if (flat && flat.type === 'flat') return flat.gpa;
  if (manifest.boot!.preset === 'real16') return 0xffff_fff0n;
  return fail('boot.entry', 'no entry point: give boot.entry, or an ELF or flat payload');
}
