/**
 * `igvm measure`, `igvm sign` and `igvm verify` run as child processes (dist/cli/main.js) on
 * builder-made files; keys are made at test time. Every failure: one line, exit 1 or 2, no output
 * file left behind.
 */
import { generateKeyPairSync, sign as nodeSign, createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IgvmBuilder, parseIgvm } from '../../src/format/index.js';
import { cliPath, ensureBuiltCli, repoRoot } from '../helpers/built-cli.js';
import { fixChecksum, u32 } from '../helpers/mutate.js';
import { fixtures, measureBytes, pageOf, single, vmsa } from '../measure/fixtures.js';

const cli = cliPath;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function igvm(...args: string[]): Run {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A failure: the exit code, exactly one stderr line (returned), nothing on stdout. */
function fails(r: Run, code: 1 | 2): string {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
  return lines[0]!;
}

let tmp: string;
const files: Record<string, string> = {};
const keys: Record<string, string> = {};

beforeAll(async () => {
  ensureBuiltCli();
  tmp = await mkdtemp(join(tmpdir(), 'igvm-measure-cli-'));
  for (const f of fixtures()) {
    files[f.name] = join(tmp, `${f.name}.igvm`);
    await writeFile(files[f.name]!, f.bytes);
  }
  for (const [name, curve] of [['id', 'secp384r1'], ['author', 'secp384r1'], ['other', 'secp384r1'], ['p256', 'prime256v1']] as const) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    keys[name] = join(tmp, `${name}.pem`);
    keys[`${name}.pub`] = join(tmp, `${name}.pub.pem`);
    await writeFile(keys[name]!, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(keys[`${name}.pub`]!, publicKey.export({ format: 'pem', type: 'spki' }));
  }
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const out = (name: string): string => join(tmp, name);

describe('igvm measure', () => {
  it('prints one line per measurable platform, equal to the library', async () => {
    const r = igvm('measure', files['multi-platform']!);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['snp', 'tdx', 'vbs']);
    const bytes = await readFile(files['multi-platform']!);
    const snp = await measureBytes(new Uint8Array(bytes), 'SEV_SNP');
    expect(lines[0]).toBe(`snp    ${snp.hex}  (SEV-SNP launch digest, SHA-384; profile igvm; mask 0x1; ${snp.records} records)`);
    expect(lines[1]).toMatch(/^tdx    [0-9a-f]{96}  \(TDX MRTD, SHA-384; profile igvm; mask 0x2; \d+ records\)$/);
    expect(lines[2]).toMatch(/^vbs    [0-9a-f]{64}  \(VBS boot digest, SHA-256; profile igvm; mask 0x4; \d+ records\)$/);
  });

  it('--bare prints the hex digest only; --platform and --profile select', async () => {
    const bare = igvm('measure', files['snp-two-vmsas']!, '--bare');
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^[0-9a-f]{96}\n$/);
    const bytes = new Uint8Array(await readFile(files['snp-two-vmsas']!));
    expect(bare.stdout.trim()).toBe((await measureBytes(bytes, 'SEV_SNP')).hex);
    const qemu = igvm('measure', files['snp-two-vmsas']!, '--bare', '--profile', 'qemu-kvm');
    expect(qemu.stdout.trim()).toBe((await measureBytes(bytes, 'SEV_SNP', { profileName: 'qemu-kvm' })).hex);
    expect(qemu.stderr).toMatch(/warning: snp: header #\d+: KVM check: more than one VMSA/);
    const nz = igvm('measure', files['snp-every-page-kind']!, '--bare', '--native-zero');
    const nzBytes = new Uint8Array(await readFile(files['snp-every-page-kind']!));
    expect(nz.stdout.trim()).toBe((await measureBytes(nzBytes, 'SEV_SNP', { profileName: 'svsm-igvmmeasure-native-zero' })).hex);
    const tdx = igvm('measure', files['multi-platform']!, '--platform', 'tdx', '--bare', '--mask', '0x3');
    expect(tdx.code).toBe(0);
    const multi = new Uint8Array(await readFile(files['multi-platform']!));
    expect(tdx.stdout.trim()).toBe((await measureBytes(multi, 'TDX', { mask: 3 })).hex);
    const sev = igvm('measure', files['sev-es-and-sev']!);
    expect(sev.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0])).toEqual(['sev-es', 'sev']);
  });

  it('--json follows docs/measure-json.md, with the OpenVMM identity shape', () => {
    const r = igvm('measure', files['multi-platform']!, '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema).toBe('igvm-ts/measure/v1');
    expect(doc.profile.name).toBe('igvm');
    expect(doc.measurements.map((m: { platform: string }) => m.platform)).toEqual(['SEV_SNP', 'TDX', 'VSM_ISOLATION']);
    const snp = doc.measurements[0];
    expect(snp).toMatchObject({ option: 'snp', compatibilityMask: 1, algorithm: 'sha384', idBlock: null, warnings: [] });
    expect(doc.identity.snp).toEqual({ environment: { class_id: '7fb00ee4-a7ff-11ed-9e2f-00155d09de56' }, series: [{ reference: { snp_ld: snp.digest.toUpperCase() } }] });
    expect(doc.identity.tdx.series[0].reference.tdx_mrtd).toBe(doc.measurements[1].digest.toUpperCase());
    expect(doc.identity.vbs.series[0].reference.vbs_boot_digest).toBe(doc.measurements[2].digest.toUpperCase());
  });

  it('--trace writes one JSON line per record, ending at the digest', async () => {
    const trace = out('trace.jsonl');
    const r = igvm('measure', files['snp-every-page-kind']!, '--platform', 'snp', '--trace', trace);
    expect(r.code).toBe(0);
    const records = (await readFile(trace, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const digest = r.stdout.split(/\s+/)[1];
    expect(records.length).toBe(Number(/(\d+) records/.exec(r.stdout)![1]));
    expect(records[records.length - 1].digest).toBe(digest);
    expect(records[0]).toEqual({
      platform: 'SEV_SNP', n: 0, header: expect.any(Number), kind: 'PAGE_INFO', gpa: '0x100000', pageType: 'NORMAL',
      contentsSha256: createHash('sha256').update(pageOf(1)).digest('hex'), digest: expect.stringMatching(/^[0-9a-f]{96}$/),
    });
    expect(records.some((x) => x.pageType === 'VMSA')).toBe(true);
  });

  it('bad input: one line, exit 1 or 2, no trace file left', async () => {
    const trace = out('never.jsonl');
    expect(fails(igvm('measure', files['snp-every-page-kind']!, '--platform', 'tdx', '--trace', trace), 1)).toBe(
      `igvm: ${files['snp-every-page-kind']}: file declares SEV_SNP and NATIVE; no TDX platform`,
    );
    expect(existsSync(trace)).toBe(false);
    expect(fails(igvm('measure', files['multi-platform']!, '--bare'), 2)).toMatch(/--bare prints one digest: choose one of snp, tdx, vbs with --platform/);
    expect(fails(igvm('measure', files['multi-platform']!, '--platform', 'snp', '--profile', 'td-shim'), 2)).toMatch(/profile td-shim does not measure SEV_SNP/);
    expect(fails(igvm('measure', files['multi-platform']!, '--platform', 'native'), 2)).toMatch(/--platform/);
    expect(fails(igvm('measure', files['multi-platform']!, '--profile', 'qemu-kvm', '--native-zero'), 2)).toMatch(/--native-zero belongs to the svsm-igvmmeasure profile/);
    expect(fails(igvm('measure', files['multi-platform']!, '--platform', 'snp', '--mask', 'zz'), 2)).toMatch(/--mask zz/);
    expect(fails(igvm('measure', join(tmp, 'missing.igvm')), 2)).toMatch(/cannot read .*missing\.igvm: no such file or directory/);
    expect(fails(igvm('measure', files['multi-platform']!, '--trace', join(tmp, 'no-dir', 'x.jsonl')), 2)).toMatch(/cannot write/);
    expect(readdirSync(tmp).filter((n) => n.includes('.tmp'))).toEqual([]);

    const vbsSecrets = out('vbs-secrets.igvm');
    await writeFile(vbsSecrets, single('VSM_ISOLATION', (b, m) => b.addPageData(0x1000n, pageOf(1), { mask: m, dataType: 'SECRETS' })));
    expect(fails(igvm('measure', vbsSecrets), 1)).toMatch(/header #\d+ \(PAGE_DATA\): page type SECRETS at 0x1000 cannot be measured on VBS/);

    // A VMSA that the file cuts short (a VMSA of the wrong size).
    const b = new IgvmBuilder();
    const snp = b.addPlatform('SEV_SNP');
    b.addGuestPolicy(0x30000n, snp);
    b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(3) }, { mask: snp, gpa: 0xffff_ffff_f000n });
    const whole = b.serialize();
    const cut = whole.slice(0, whole.length - 512);
    u32(cut, 0x10, cut.length);
    fixChecksum(cut);
    const short = out('short-vmsa.igvm');
    await writeFile(short, cut);
    expect(fails(igvm('measure', short), 1)).toMatch(/VP_CONTEXT.*exceeds file size/);
  });
});

async function patchIdBlock(path: string, edit: (bytes: Uint8Array, body: number) => void): Promise<void> {
  const bytes = new Uint8Array(await readFile(path));
  const at = parseIgvm(bytes).locations.directives.find((l) => l.typeCode === 0x30b)!.offset + 8;
  edit(bytes, at);
  fixChecksum(bytes);
  await writeFile(path, bytes);
}

describe('igvm sign and verify', () => {
  const input = (): string => files['snp-every-page-kind']!;

  it('round trip with an ID key and an author key; measure reports the matching ld', async () => {
    const signed = out('signed.igvm');
    const r = igvm('sign', input(), '--id-key', keys.id!, '--author-key', keys.author!, '--family-id', '01', '--guest-svn', '7', '-o', signed);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/signed\.igvm: added the SEV-SNP ID block \(ld [0-9a-f]{96}, profile igvm, with author key\)/);
    const v = igvm('verify', signed);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/ID block verified .* ID key signature valid; author key signature valid/);
    expect(igvm('measure', signed).stdout).toMatch(/ID block ld matches\)/);
    const block = parseIgvm(new Uint8Array(await readFile(signed))).directives.find((d) => d.type === 'SNP_ID_BLOCK');
    expect(block).toMatchObject({ version: 1, guestSvn: 7, idKeyAlgorithm: 1, idPublicKeyCurve: 2, authorKeyEnabled: 1 });
    // Signing again replaces the block, keeping family_id and guest_svn, and the revision.
    const again = out('signed-again.igvm');
    expect(igvm('sign', signed, '--id-key', keys.other!, '-o', again).stdout).toMatch(/replaced the SEV-SNP ID block/);
    const parsed = parseIgvm(new Uint8Array(await readFile(again)));
    expect(parsed.directives.filter((d) => d.type === 'SNP_ID_BLOCK')).toHaveLength(1);
    expect(parsed.directives.find((d) => d.type === 'SNP_ID_BLOCK')).toMatchObject({ guestSvn: 7, authorKeyEnabled: 0 });
    expect(parsed.revision).toEqual({ formatVersion: 1 });
    expect(igvm('verify', again).code).toBe(0);
    // The reference reads the signed file and measures it alike.
    const tool = join(repoRoot, '../shared/tools/igvm-ref-dump');
    if (!existsSync(tool)) {
      console.log(`skipping the reference check of signed files: ${tool} is absent`);
      return;
    }
    expect(spawnSync(tool, ['check', signed], { encoding: 'utf8' }).stdout.trim()).toBe('OK');
    const ld = spawnSync(tool, ['measure', signed, '--platform', 'snp'], { encoding: 'utf8' }).stdout.trim();
    expect(igvm('measure', signed, '--bare').stdout.trim()).toBe(ld);
  });

  it('out-of-band: --emit-payload, a DER signature made elsewhere, --signature --public-key', async () => {
    const payload = out('payload.bin');
    expect(igvm('sign', input(), '--emit-payload', payload).code).toBe(0);
    const bytes = await readFile(payload);
    expect(bytes.length).toBe(96);
    const { createPrivateKey } = await import('node:crypto');
    const der = nodeSign('sha384', bytes, createPrivateKey(await readFile(keys.id!)));
    const sig = out('sig.der');
    await writeFile(sig, der);
    const signed = out('oob.igvm');
    const r = igvm('sign', input(), '--signature', sig, '--public-key', keys['id.pub']!, '-o', signed);
    expect(r.code, r.stderr).toBe(0);
    expect(igvm('verify', signed).code).toBe(0);
    // The same signature against another key: refused, nothing written.
    const refused = out('oob-refused.igvm');
    expect(fails(igvm('sign', input(), '--signature', sig, '--public-key', keys['other.pub']!, '-o', refused), 1)).toMatch(/the signature does not verify with .*other\.pub\.pem/);
    expect(existsSync(refused)).toBe(false);
  });

  it('verify fails, with a clear line, for a tampered block, a wrong key and a wrong ld', async () => {
    const signed = out('tamper-base.igvm');
    expect(igvm('sign', input(), '--id-key', keys.id!, '-o', signed).code).toBe(0);
    const bytes = await readFile(signed);

    const tampered = out('tampered.igvm');
    await writeFile(tampered, bytes);
    await patchIdBlock(tampered, (b, body) => void (b[body + 0x38] = b[body + 0x38]! ^ 1)); // family_id
    expect(fails(igvm('verify', tampered), 1)).toMatch(/ID block \(header #\d+\): the ID key signature does not verify over the block/);

    const wrongKey = out('wrong-key.igvm');
    await writeFile(wrongKey, bytes);
    const other = out('other-signed.igvm');
    expect(igvm('sign', input(), '--id-key', keys.other!, '-o', other).code).toBe(0);
    const otherBlock = parseIgvm(new Uint8Array(await readFile(other))).directives.find((d) => d.type === 'SNP_ID_BLOCK')!;
    await patchIdBlock(wrongKey, (b, body) => {
      if (otherBlock.type !== 'SNP_ID_BLOCK') return;
      b.set(otherBlock.idPublicKeyQx, body + 0x100);
      b.set(otherBlock.idPublicKeyQy, body + 0x148);
    });
    expect(fails(igvm('verify', wrongKey), 1)).toMatch(/the ID key signature does not verify/);

    // Change a measured page: the ld no longer matches (page data is outside the checksum).
    const wrongLd = out('wrong-ld.igvm');
    const changed = new Uint8Array(bytes);
    const page = parseIgvm(changed).directives.find((d) => d.type === 'PAGE_DATA' && d.gpa === 0x100000n);
    expect(page?.type).toBe('PAGE_DATA');
    const offset = (page as { data: Uint8Array }).data.byteOffset;
    changed[offset] = changed[offset]! ^ 0xff;
    await writeFile(wrongLd, changed);
    expect(fails(igvm('verify', wrongLd), 1)).toMatch(/ID block \(header #\d+\): ld [0-9a-f]{96} differs from the launch digest [0-9a-f]{96} \(profile igvm\)/);
    expect(igvm('measure', wrongLd).stdout).toMatch(/ID block ld DIFFERS/);

    expect(fails(igvm('verify', input()), 1)).toMatch(/no SNP ID block applies to the SEV_SNP platform/);
  });

  it('bad keys and signatures: one line, no output file', async () => {
    const target = out('never.igvm');
    expect(fails(igvm('sign', input(), '--id-key', keys.p256!, '-o', target), 1)).toMatch(/p256\.pem is on curve prime256v1, not P-384/);
    expect(fails(igvm('sign', input(), '--id-key', keys['id.pub']!, '-o', target), 1)).toMatch(/is not a PEM private key/);
    expect(fails(igvm('sign', input(), '--id-key', join(tmp, 'nokey.pem'), '-o', target), 2)).toMatch(/cannot read .*nokey\.pem/);
    const garbage = out('garbage.der');
    await writeFile(garbage, 'not der');
    expect(fails(igvm('sign', input(), '--signature', garbage, '--public-key', keys['id.pub']!, '-o', target), 1)).toMatch(/garbage\.der is not a DER ECDSA signature/);
    expect(fails(igvm('sign', input(), '--signature', garbage, '-o', target), 2)).toMatch(/--signature needs --public-key/);
    expect(fails(igvm('sign', input(), '--id-key', keys.id!), 2)).toMatch(/needs -o/);
    expect(fails(igvm('sign', input(), '--id-key', keys.id!, '--emit-payload', out('p.bin')), 2)).toMatch(/choose one of/);
    expect(fails(igvm('sign', files['tdx-every-page-kind']!, '--id-key', keys.id!, '-o', target), 1)).toMatch(/file declares TDX and NATIVE; no SEV_SNP platform/);
    const noPolicy = out('no-policy.igvm');
    const b = new IgvmBuilder();
    const snp = b.addPlatform('SEV_SNP');
    b.addPageData(0n, pageOf(1), { mask: snp });
    await writeFile(noPolicy, b.serialize());
    expect(fails(igvm('sign', noPolicy, '--id-key', keys.id!, '-o', target), 1)).toMatch(/no GUEST_POLICY applies to the SEV_SNP mask 0x1/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(tmp).filter((n) => n.includes('.tmp'))).toEqual([]);
  });
});



describe('progress', () => {
  it('draws a bar on a TTY stderr for files over the threshold, and clears it; nothing otherwise', async () => {
    const { PassThrough } = await import('node:stream');
    const { parseIgvmLazy } = await import('../../src/format/index.js');
    const { memorySource } = await import('../../src/measure/index.js');
    const { measurePlatforms } = await import('../../src/cli/commands/measure.js');
    const { profileByName } = await import('../../src/measure/index.js');
    const bytes = new Uint8Array(await readFile(files['multi-platform']!));
    const source = memorySource(bytes);
    const igvm = await parseIgvmLazy(source);
    const run = async (isTTY: boolean, progressMinBytes: number): Promise<string> => {
      const stderr = Object.assign(new PassThrough(), { isTTY });
      let text = '';
      stderr.on('data', (c: Buffer) => (text += c.toString()));
      await measurePlatforms(igvm, source, 'f', ['SEV_SNP'], profileByName('igvm')!, { stderr, progressMinBytes });
      return text;
    };
    const bar = await run(true, 0);
    expect(bar).toMatch(/\rmeasuring snp \[#+\] 100%/);
    expect(bar.endsWith('\r')).toBe(true);
    expect(await run(false, 0)).toBe('');
    expect(await run(true, bytes.length)).toBe('');
  });
});
