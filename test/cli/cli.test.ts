/**
 * The built `igvm` CLI (dist/cli/main.js) run as a child process on the shared reference vectors.
 * The vectors live beside the repository (../shared/vectors); without them those tests are skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../../src/format/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(repoRoot, 'dist/cli/main.js');
const vectors = resolve(repoRoot, '../shared/vectors');
const hasVectors = existsSync(join(vectors, 'v1_basic_capi.igvm'));
if (!hasVectors) console.log(`skipping the CLI tests on reference vectors: ${vectors} not found`);

const vector = (name: string) => join(vectors, `${name}.igvm`);
const VALID = readdirSafe(vectors)
  .filter((n) => n.endsWith('.igvm') && n !== 'v1_zero_page_only.igvm')
  .map((n) => n.replace(/\.igvm$/, ''));

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every line any run printed, checked at the end for stack traces. */
const allOutput: string[] = [];

function igvm(...args: string[]): Run {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const run = { code: r.status, stdout: r.stdout, stderr: r.stderr };
  allOutput.push(...run.stdout.split('\n'), ...run.stderr.split('\n'));
  return run;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let tmp: string;

beforeAll(async () => {
  // `npm test` builds first; when run directly, build if dist is missing or older than the sources.
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestMtime(join(repoRoot, 'src'))) {
    const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: repoRoot, encoding: 'utf8' });
    if (!existsSync(cli)) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  }
  tmp = await mkdtemp(join(tmpdir(), 'igvm-cli-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
type JsonObject = { [key: string]: JsonValue };

function obj(v: JsonValue | undefined): JsonObject {
  expect(v !== null && typeof v === 'object' && !Array.isArray(v)).toBe(true);
  return v as JsonObject;
}

function arr(v: JsonValue | undefined): JsonValue[] {
  expect(Array.isArray(v)).toBe(true);
  return v as JsonValue[];
}

const HEX = /^0x(0|[1-9a-f][0-9a-f]*)$/;

/** Visit every value of a JSON document with its member name and the names above it. */
function walk(v: JsonValue, visit: (key: string, value: JsonValue, path: string[]) => void, path: string[] = []): void {
  visit(path[path.length - 1] ?? '', v, path);
  if (Array.isArray(v)) v.forEach((x, i) => walk(x, visit, [...path, String(i)]));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, visit, [...path, k]);
}

describe.skipIf(!hasVectors)('igvm inspect (text)', () => {
  it('decodes the native VP context and the page of v2_x64_native_vpctx', () => {
    const r = igvm('inspect', vector('v2_x64_native_vpctx'));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout;
    expect(out).toMatch(/format version\s+2/);
    expect(out).toMatch(/architecture\s+X64\n/);
    expect(out).toMatch(/page size\s+4096/);
    expect(out).toMatch(/checksum\s+0x[0-9a-f]{8}/);
    expect(out).toMatch(/SUPPORTED_PLATFORM: NATIVE, mask 0x1/);
    expect(out).toMatch(/VP_CONTEXT: vp 0, mask 0x1 \(NATIVE\), native-x64, real16 mode/);
    expect(out).toMatch(/^\s+rip\s+0xfff0$/m);
    expect(out).toMatch(/^\s+rflags\s+0x2$/m);
    expect(out).toMatch(/^\s+cr0\s+0x60000010 \(ET NW CD\)$/m);
    expect(out).toMatch(/^\s+cs\s+selector 0xf000 base 0xffff0000 limit 0xffff attributes 0x9b \(code, execute\/read, accessed; S DPL=0 P\)$/m);
    expect(out).toMatch(/^\s+ds\/es\/fs\/gs\/ss\s+selector 0x0 base 0x0 limit 0xffff attributes 0x93 \(data, read\/write, accessed/m);
    expect(out).toMatch(/^\s+gdtr\s+base 0x0 limit 0xffff$/m);
    expect(out).toMatch(/^\s+0xfffff000-0xffffffff\s+1\s+0x1\s+NORMAL\s+-\s+data\s+#1$/m);
  });

  it('coalesces the pages and groups the parameter area of v1_basic_capi', () => {
    const r = igvm('inspect', vector('v1_basic_capi'));
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/architecture\s+X64 \(implied by version 1\)/);
    expect(out).toContain('page data: 8 pages in 4 ranges');
    expect(out).toMatch(/^\s+0x00000000-0x00002fff\s+3\s+0x1\s+NORMAL\s+-\s+data\s+#3-#5$/m);
    expect(out).toMatch(/^\s+0x00004000-0x00004fff\s+1\s+0x1\s+NORMAL\s+-\s+data\s+#6$/m);
    expect(out).toMatch(/^\s+0x0000a000-0x0000cfff\s+3\s+0x1\s+NORMAL\s+-\s+data\s+#7-#9$/m);
    expect(out).toMatch(/^\s+0x0000e000-0x0000efff\s+1\s/m);
    expect(out).toMatch(/parameter area 0: 4096 \(0x1000\) bytes, initially zero \(#11 @0x160\)/);
    expect(out).toMatch(/^\s+VP_COUNT_PARAMETER at byte offset 0x0 \(#12\)$/m);
    expect(out).toMatch(/^\s+inserted at GPA 0x14000, mask 0x1 \(VSM_ISOLATION\) \(#13\)$/m);
    // The parameter area's lines come right after its heading.
    const area = out.slice(out.indexOf('parameter area 0'));
    expect(area.split('\n').slice(1, 3).join('\n')).toMatch(/VP_COUNT_PARAMETER[^\n]*\n\s+inserted at GPA 0x14000/);
  });

  it('decodes policies, VMSA, VBS and CCA contexts', () => {
    const snp = igvm('inspect', vector('v1_snp_basic')).stdout;
    expect(snp).toMatch(/policy\s+0x30000 \(SnpPolicy: smt, reservedMustBeOne\)/);
    expect(snp).toMatch(/VP_CONTEXT: vp 0, mask 0x1 \(SEV_SNP\), sev-vmsa, VMSA at GPA 0xfffff000/);
    expect(snp).toMatch(/^\s+rip\s+0xfff0$/m);
    expect(snp).toMatch(/^\s+sevFeatures\s+0x1 \(snp\)$/m);
    expect(snp).toMatch(/^\s+0x00001000-0x00001fff\s+1\s+0x1\s+SECRETS\s+-\s+zero\s+#3$/m);
    expect(snp).toMatch(/^\s+0x00003000-0x00003fff\s+1\s+0x1\s+NORMAL\s+unmeasured\s+zero\s+#5$/m);
    expect(snp).toMatch(/parameter area 7: 8192 \(0x2000\) bytes, initial contents 8192 bytes at file offset 0x2158/);
    expect(snp).toMatch(/MEMORY_MAP at byte offset 0x0/);
    expect(snp).toMatch(/COMMAND_LINE at byte offset 0x1000/);
    expect(snp).toMatch(/REQUIRED_MEMORY/);

    const vbs = igvm('inspect', vector('v1_vbs_reloc_vpctx')).stdout;
    expect(vbs).toMatch(/RELOCATABLE_REGION/);
    expect(vbs).toMatch(/flags\s+0x7 \(isVtl2, applyRip, applyGdtr\)/);
    expect(vbs).toMatch(/vbs-x64/);
    expect(vbs).toMatch(/^\s+VTL 2$/m);
    expect(vbs).toMatch(/^\s+Rip\s+0x200000$/m);

    const cca = igvm('inspect', vector('v2_aarch64_cca')).stdout;
    expect(cca).toMatch(/architecture\s+AARCH64/);
    expect(cca).toMatch(/hashAlgorithm\s+SHA512 \(1\)/);
    expect(cca).toMatch(/VP_CONTEXT: vp 0, mask 0x1 \(CCA\), cca/);
    expect(cca).toMatch(/x0\s+0x1234/);
    expect(cca).toMatch(/pc\s+0x80000000/);
    expect(cca).toMatch(/flags\s+0x0/);
  });

  it('applies --platform as the parse filter', () => {
    const all = igvm('inspect', vector('v1_merged_vsm_snp')).stdout;
    expect(all).toContain('page data: 3 pages in 3 ranges');
    const snp = igvm('inspect', vector('v1_merged_vsm_snp'), '--platform', 'snp');
    expect(snp.code).toBe(0);
    expect(snp.stdout).toContain('platform filter: SEV_SNP (mask 0x2)');
    expect(snp.stdout).toContain('page data: 2 pages in 2 ranges');
    const vbs = igvm('inspect', vector('v1_merged_vsm_snp'), '--platform', 'vbs').stdout;
    expect(vbs).toContain('initialization headers (0)');
    const tdx = igvm('inspect', vector('v1_merged_vsm_snp'), '--platform', 'tdx').stdout;
    expect(tdx).toContain('no such platform in the file: nothing was filtered');
    expect(tdx).toContain('page data: 3 pages in 3 ranges');
  });

  it('adds hex dumps with --data, addressed by GPA and with repeated lines elided', () => {
    const r = igvm('inspect', vector('v1_snp_basic'), '--data');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^\s+00000000  aa aa aa aa aa aa aa aa  aa aa aa aa aa aa aa aa  \|\.{16}\|\n\s+\*\n\s+00001000$/m);
    expect(out).toMatch(/^\s+00002000  01 02 03 04 00 00/m);
    expect(out).toMatch(/^\s+00000000  68 65 6c 6c 6f 00 .*\|hello\.{11}\|$/m);
  });

  it('needs --lenient for a file with an empty data section', () => {
    const strict = igvm('inspect', vector('v1_zero_page_only'));
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    expect(lines(strict.stderr)).toHaveLength(1);
    expect(strict.stderr).toMatch(/^igvm: .*v1_zero_page_only\.igvm: .*file data section is empty/);
    const lenient = igvm('inspect', vector('v1_zero_page_only'), '--lenient');
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/warnings \(1\)\n\s+@0xc: the file data section is empty/);
    expect(lenient.stdout).toMatch(/0x00001000-0x00001fff\s+1\s+0x1\s+NORMAL\s+-\s+zero/);
  });
});

describe.skipIf(!hasVectors)('igvm inspect --json', () => {
  function inspectJson(name: string, ...extra: string[]): JsonObject {
    const r = igvm('inspect', vector(name), '--json', ...extra);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    return obj(JSON.parse(r.stdout) as JsonValue);
  }

  it.each(VALID)('%s follows the schema', (name) => {
    const doc = inspectJson(name);
    expect(Object.keys(doc)).toEqual([
      'schema',
      'file',
      'revision',
      'platformFilter',
      'platforms',
      'initializations',
      'directives',
      'pageRanges',
      'parameterAreas',
      'warnings',
    ]);
    expect(doc['schema']).toBe('igvm-ts/inspect/v1');
    const size = statSync(vector(name)).size;
    expect(doc['file']).toEqual({ path: vector(name), size });
    const rev = obj(doc['revision']);
    expect(Object.keys(rev)).toEqual([
      'formatVersion',
      'architecture',
      'architectureImplied',
      'pageSize',
      'fixedHeaderSize',
      'variableHeaderOffset',
      'variableHeaderSize',
      'totalFileSize',
      'checksum',
      'fileDataOffset',
      'fileDataSize',
    ]);
    expect(rev['totalFileSize']).toBe(size);
    expect(doc['platformFilter']).toBeNull();

    // Reference parse result: same headers, same order.
    const expected = obj(JSON.parse(readFileSync(join(vectors, 'expected', `${name}.json`), 'utf8')) as JsonValue);
    expect(arr(doc['platforms'])).toHaveLength(arr(expected['platform_headers']).length);
    expect(arr(doc['initializations'])).toHaveLength(arr(expected['initialization_headers']).length);
    const directives = arr(doc['directives']).map(obj);
    const refDirectives = arr(expected['directive_headers']).map(obj);
    expect(directives).toHaveLength(refDirectives.length);

    // Headers: index/offset/type/typeCode/fields, indexes increasing in file order.
    const headers = [...arr(doc['platforms']), ...arr(doc['initializations']), ...directives].map(obj);
    headers.forEach((h, i) => {
      expect(Object.keys(h)).toEqual(['index', 'offset', 'type', 'typeCode', 'fields']);
      expect(h['index']).toBe(i);
      expect(typeof h['offset']).toBe('number');
      expect(typeof h['type']).toBe('string');
    });

    directives.forEach((d, i) => {
      const ref = refDirectives[i];
      const fields = obj(d['fields']);
      if (d['type'] === 'PAGE_DATA') {
        expect(ref?.['_type']).toBe('PageData');
        expect(fields['gpa']).toMatch(HEX);
        expect(BigInt(fields['gpa'] as string)).toBe(BigInt(ref?.['gpa'] as number | string));
        expect(fields['dataType']).toBe(ref?.['data_type']);
      }
    });

    // Every 64-bit value and address is a "0x" string; no JSON number reaches 2^32.
    walk(doc, (key, v, path) => {
      if (typeof v === 'number') {
        expect(Number.isInteger(v), key).toBe(true);
        expect(v >= 0 && v < 2 ** 32, `${key} = ${v}`).toBe(true);
      }
      if (typeof v === 'string' && v.startsWith('0x')) expect(v, key).toMatch(HEX);
      // Register values: native/CCA `registers.<name>`, VBS `registers.<i>.value` (and `.base`).
      const parent = path[path.length - 2];
      if ((parent === 'registers' && typeof v !== 'object') || (path.includes('registers') && key === 'value')) {
        expect(v, path.join('.')).toMatch(HEX);
      }
      if (['gpa', 'startGpa', 'endGpa', 'sharedGpaBoundary', 'base'].includes(key)) {
        expect(v, key).toMatch(HEX);
      }
    });

    // Page ranges cover every PAGE_DATA exactly once.
    const pages = directives.filter((d) => d['type'] === 'PAGE_DATA').length;
    const ranges = arr(doc['pageRanges']).map(obj);
    expect(ranges.reduce((n, r) => n + (r['pageCount'] as number), 0)).toBe(pages);
    for (const r of ranges) {
      expect(Object.keys(r)).toEqual([
        'startGpa',
        'endGpa',
        'pageCount',
        'compatibilityMask',
        'dataType',
        'flags',
        'kind',
        'firstHeaderIndex',
        'lastHeaderIndex',
      ]);
      expect(['zero', 'data']).toContain(r['kind']);
    }
  });

  it('v2_x64_native_vpctx: native registers as hex strings', () => {
    const doc = inspectJson('v2_x64_native_vpctx');
    expect(obj(doc['revision'])).toMatchObject({ formatVersion: 2, architecture: 'X64', architectureImplied: false, pageSize: 4096, fixedHeaderSize: 32 });
    const vp = arr(doc['directives']).map(obj).find((d) => d['type'] === 'VP_CONTEXT');
    const fields = obj(vp?.['fields']);
    expect(fields).toMatchObject({ vpIndex: 0, compatibilityMask: 1, platform: 'NATIVE', gpa: '0x0' });
    const ctx = obj(fields['context']);
    expect(ctx['format']).toBe('native-x64');
    expect(ctx['mode']).toBe('real16');
    const regs = obj(ctx['registers']);
    expect(regs['rip']).toBe('0xfff0');
    expect(regs['rflags']).toBe('0x2');
    expect(regs['cr0']).toBe('0x60000010');
    for (const v of Object.values(regs)) expect(v).toMatch(HEX);
    expect(obj(ctx['flagNames'])['cr0']).toEqual(['ET', 'NW', 'CD']);
    const cs = obj(ctx['cs']);
    expect(cs).toMatchObject({ selector: 0xf000, base: '0xffff0000', limit: 0xffff });
    expect(obj(cs['attributes'])).toMatchObject({ raw: 0x9b, type: 11, s: true, dpl: 0, present: true, long: false });
    expect(obj(ctx['gdtr'])).toEqual({ base: '0x0', limit: 0xffff });
    expect(doc['pageRanges']).toEqual([
      {
        startGpa: '0xfffff000',
        endGpa: '0xffffffff',
        pageCount: 1,
        compatibilityMask: 1,
        dataType: 'NORMAL',
        flags: { raw: 0, is2mbPage: false, unmeasured: false, shared: false, reserved: 0 },
        kind: 'data',
        firstHeaderIndex: 1,
        lastHeaderIndex: 1,
      },
    ]);
  });

  it('v1_basic_capi: parameter areas and policies', () => {
    const doc = inspectJson('v1_basic_capi');
    expect(doc['parameterAreas']).toEqual([
      {
        parameterAreaIndex: 0,
        headerIndex: 11,
        numberOfBytes: '0x1000',
        initialData: null,
        parameters: [{ type: 'VP_COUNT_PARAMETER', byteOffset: 0, headerIndex: 12 }],
        inserts: [{ gpa: '0x14000', compatibilityMask: 1, headerIndex: 13 }],
      },
    ]);
    const policy = obj(obj(obj(arr(doc['initializations'])[0])['fields'])['policy']);
    expect(policy).toEqual({ raw: '0x30000', decodedAs: null });
  });

  it('v1_snp_basic: 64-bit values are hex, VMSA lists its non-zero fields', () => {
    const doc = inspectJson('v1_snp_basic');
    const platform = obj(obj(arr(doc['platforms'])[0])['fields']);
    expect(platform['sharedGpaBoundary']).toBe('0x400000000000');
    const policy = obj(obj(obj(arr(doc['initializations'])[0])['fields'])['policy']);
    expect(policy).toMatchObject({ raw: '0x30000', decodedAs: 'SnpPolicy', abiMinor: 0, abiMajor: 0, smt: true, reservedMustBeOne: true, reserved: '0x0' });
    const vp = obj(arr(doc['directives']).map(obj).find((d) => d['type'] === 'VP_CONTEXT')?.['fields']);
    expect(vp['gpa']).toBe('0xfffff000');
    const ctx = obj(vp['context']);
    expect(ctx['format']).toBe('sev-vmsa');
    const fields = obj(ctx['fields']);
    expect(Object.keys(fields)).toEqual(['efer', 'rip', 'sevFeatures']);
    expect(fields['rip']).toBe('0xfff0');
    expect(obj(fields['sevFeatures'])).toMatchObject({ raw: '0x1', snp: true });
  });

  it('--data adds payload digests that match the reference', () => {
    for (const name of ['v1_basic_capi', 'v1_snp_basic']) {
      const doc = inspectJson(name, '--data');
      const expected = obj(JSON.parse(readFileSync(join(vectors, 'expected', `${name}.json`), 'utf8')) as JsonValue);
      const refPages = arr(expected['directive_headers']).map(obj).filter((d) => d['_type'] === 'PageData');
      const pages = arr(doc['directives']).map(obj).filter((d) => d['type'] === 'PAGE_DATA');
      expect(pages).toHaveLength(refPages.length);
      pages.forEach((p, i) => {
        const ref = obj(refPages[i]?.['data']);
        const data = obj(p['fields']).data ?? null;
        if (ref['len'] === 0) {
          expect(data).toBeNull();
        } else {
          expect(obj(data)).toMatchObject({ length: ref['len'], sha256: ref['sha256'], allZero: ref['all_zero'] });
        }
      });
    }
  });

  it('--platform is reported in platformFilter', () => {
    const doc = inspectJson('v1_merged_vsm_snp', '--platform', 'snp');
    expect(doc['platformFilter']).toEqual({ platform: 'SEV_SNP', matched: true, compatibilityMask: 2 });
    for (const d of arr(doc['directives']).map(obj)) {
      const mask = obj(d['fields'])['compatibilityMask'];
      if (typeof mask === 'number') expect(mask & 2).not.toBe(0);
    }
    const none = inspectJson('v1_merged_vsm_snp', '--platform', 'cca');
    expect(none['platformFilter']).toEqual({ platform: 'CCA', matched: false, compatibilityMask: null });
  });
});

describe.skipIf(!hasVectors)('igvm validate', () => {
  it.each(VALID)('%s is valid', (name) => {
    const r = igvm('validate', vector(name));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toHaveLength(1);
    expect(r.stdout).toMatch(new RegExp(`^${vector(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: valid \\(\\d+ headers?, \\d+ pages?\\)\\n$`));
  });

  it('counts headers and pages', () => {
    expect(igvm('validate', vector('v1_basic_capi')).stdout).toBe(`${vector('v1_basic_capi')}: valid (14 headers, 8 pages)\n`);
  });

  it('v1_zero_page_only is invalid, but valid with a warning under --lenient', () => {
    const strict = igvm('validate', vector('v1_zero_page_only'));
    expect(strict.code).toBe(1);
    expect(lines(strict.stderr)).toEqual([`${vector('v1_zero_page_only')}: at 0xc: the file data section is empty (headers end at 0x50 = file size); the reference parser rejects such files`]);
    const lenient = igvm('validate', vector('v1_zero_page_only'), '--lenient');
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/: valid \(2 headers, 1 page\)\n$/);
    expect(lines(lenient.stderr)).toEqual([`${vector('v1_zero_page_only')}: warning: the file data section is empty: the reference parser rejects this file`]);
  });

  it('a corrupted header gives exit 1 and one line naming the header', async () => {
    const bytes = new Uint8Array(await readFile(vector('v1_basic_capi')));
    const doc = JSON.parse(igvm('inspect', vector('v1_basic_capi'), '--json').stdout) as JsonObject;
    const page = arr(doc['directives']).map(obj).find((d) => d['type'] === 'PAGE_DATA');
    const at = (page?.['offset'] as number) + 8 + 0x14; // data_type of the first PAGE_DATA body
    new DataView(bytes.buffer).setUint16(at, 9, true);
    // Recompute the checksum so that the header itself is what is wrong.
    const dv = new DataView(bytes.buffer);
    const vhOffset = dv.getUint32(8, true);
    const vhSize = dv.getUint32(12, true);
    const fixed = bytes.slice(0, 24);
    fixed.fill(0, 0x14, 0x18);
    dv.setUint32(0x14, crc32(bytes.subarray(vhOffset, vhOffset + vhSize), crc32(fixed)), true);
    const path = join(tmp, 'corrupt.igvm');
    await writeFile(path, bytes);

    const r = igvm('validate', path);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const out = lines(r.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: header #${String(page?.['index'])} \\(PAGE_DATA\\) at 0x${(page?.['offset'] as number).toString(16)}: `));

    const inspect = igvm('inspect', path);
    expect(inspect.code).toBe(1);
    expect(lines(inspect.stderr)).toHaveLength(1);
    expect(inspect.stderr).toMatch(/^igvm: .*corrupt\.igvm: header #3 \(PAGE_DATA\)/);
  });

  it('a bad checksum gives exit 1 and one line', async () => {
    const path = join(tmp, 'bad-checksum.igvm');
    await copyFile(vector('v1_basic_capi'), path);
    const bytes = new Uint8Array(await readFile(path));
    bytes[0x14] = (bytes[0x14] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    const r = igvm('validate', path);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/: at 0x14: checksum 0x[0-9a-f]+ does not match the computed 0x[0-9a-f]+\n$/);
  });

  it('truncated and non-IGVM files give exit 1 and one line', async () => {
    const truncated = join(tmp, 'truncated.igvm');
    await writeFile(truncated, (await readFile(vector('v1_basic_capi'))).subarray(0, 100));
    const empty = join(tmp, 'empty.igvm');
    await writeFile(empty, new Uint8Array(0));
    const text = join(tmp, 'text.igvm');
    await writeFile(text, 'this is not an IGVM file at all, just some text\n');
    for (const path of [truncated, empty, text]) {
      for (const cmd of ['validate', 'inspect']) {
        const r = igvm(cmd, path);
        expect(r.code, `${cmd} ${path}`).toBe(1);
        expect(r.stdout).toBe('');
        expect(lines(r.stderr)).toHaveLength(1);
      }
    }
  });
});

describe('igvm usage and unreadable files', () => {
  it('a missing file gives exit 2 and "cannot read"', () => {
    for (const cmd of ['validate', 'inspect']) {
      const r = igvm(cmd, '/nonexistent/file.igvm');
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('igvm: cannot read /nonexistent/file.igvm: no such file or directory\n');
    }
  });

  it('a directory gives exit 2', () => {
    const r = igvm('validate', repoRoot);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`igvm: cannot read ${repoRoot}: is a directory\n`);
  });

  it.each([
    [['validate', '--bogus', 'x.igvm'], /^igvm: unknown option '--bogus'\n$/],
    [['inspect', 'x.igvm', '--platform', 'arm'], /^igvm: option '--platform <platform>' argument 'arm' is invalid\. Allowed choices are native, snp, tdx, vbs, sev, sev-es, cca\.\n$/],
    [['validate'], /^igvm: missing required argument 'file'\n$/],
    [['validate', 'a', 'b'], /^igvm: too many arguments for 'validate'/],
    [['frobnicate'], /^igvm: unknown command 'frobnicate'\n$/],
    [['inspct', 'x'], /^igvm: unknown command 'inspct' \(Did you mean inspect\?\)\n$/],
  ])('%j is a usage error (exit 2, one line)', (args, message) => {
    const r = igvm(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(lines(r.stderr)).toHaveLength(1);
  });

  it('no command prints help and exits 2', () => {
    const r = igvm();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: igvm/);
  });

  it('--help and --version exit 0', () => {
    const help = igvm('inspect', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: igvm inspect \[options\] <file>/);
    expect(help.stdout).toMatch(/--platform <platform>/);
    const version = igvm('--version');
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('starts with a shebang', () => {
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('no run ever printed a stack trace', () => {
    expect(allOutput.length).toBeGreaterThan(0);
    for (const l of allOutput) {
      expect(l).not.toContain('at Object.');
      expect(l).not.toMatch(/^ {4}at /);
    }
  });
});
