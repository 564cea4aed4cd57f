/**
 * `igvm sign FILE`: add or replace the SEV-SNP ID block (ECDSA P-384 over the 96-byte PSP block),
 * write its payload for out-of-band signing (`--emit-payload`), or import a DER signature made
 * elsewhere (`--signature`, verified before anything is written). `igvm verify FILE`: check an ID
 * block's ld, policy and signatures. Output files are written atomically; on failure none is left.
 */
import { parseIgvm, parseIgvmLazy, type ByteSource, type LazyIgvm } from '../../format/parse.js';
import { serializeIgvm } from '../../format/serialize.js';
import type { DirectiveHeader, IgvmFile, SnpIdBlockHeader } from '../../format/model.js';
import { IgvmFormatError } from '../../format/errors.js';
import {
  CURVE_P384,
  ECDSA_P384_SHA384,
  encodePspIdBlock,
  fromPspField,
  idBlockHeader,
  sevKeyBlob,
  type PspIdBlock,
} from '../../measure/id-block.js';
import { measureIgvm, platformMaskOf } from '../../measure/measure.js';
import { memorySource } from '../../measure/memory-source.js';
import { maskSelects, type ProfileRules } from '../../measure/profiles.js';
import { nodeHashProvider } from '../../node/node-hash.js';
import { KeyError, keyFromPoint, loadPrivateKey, loadPublicKey, parseDerSignature, publicPoint, signP384, verifyP384, type Point } from '../../node/p384.js';
import { CliError, ExitCode, invalidFile, usageError } from '../exit.js';
import { readInput, withInput, writeOutput } from './common.js';
import { measureFailure, resolveProfile } from './measure.js';

export interface SignOptions {
  readonly idKey?: string;
  readonly authorKey?: string;
  readonly emitPayload?: string;
  readonly signature?: string;
  readonly publicKey?: string;
  readonly familyId?: string;
  readonly imageId?: string;
  readonly guestSvn?: string;
  readonly profile?: string;
  readonly output?: string;
}

interface Streams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function idBytes(text: string | undefined, option: string): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const clean = text.replace(/^0x/i, '');
  if (!/^[0-9a-f]{1,32}$/i.test(clean) || clean.length % 2 !== 0) throw usageError(`${option} ${text}: expected up to 16 bytes of hex`);
  const out = new Uint8Array(16);
  out.set(Buffer.from(clean, 'hex'));
  return out;
}

function svnOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 0xffff_ffff) throw usageError(`--guest-svn ${text}: expected an integer from 0 to 4294967295`);
  return Number(text);
}

/** The SNP side of a file: mask, launch digest, policy and current ID block. */
interface SnpState {
  readonly mask: number;
  readonly ld: Uint8Array;
  readonly policy: bigint | undefined;
  readonly idBlock: { header: SnpIdBlockHeader; directiveIndex: number; headerIndex: number } | undefined;
}

async function snpState(file: string, igvm: LazyIgvm, source: ByteSource, profile: ProfileRules): Promise<SnpState> {
  let mask: number;
  let ld: Uint8Array;
  try {
    mask = platformMaskOf(igvm, 'SEV_SNP');
    ld = (await measureIgvm(igvm, source, 'SEV_SNP', nodeHashProvider, { profile })).digest;
  } catch (e) {
    throw measureFailure(file, e);
  }
  const policy = igvm.initializations.find((h) => h.type === 'GUEST_POLICY' && maskSelects(profile, h.compatibilityMask, mask));
  let idBlock: SnpState['idBlock'];
  igvm.directives.forEach((d, i) => {
    if (!idBlock && d.type === 'SNP_ID_BLOCK' && maskSelects(profile, d.compatibilityMask, mask)) {
      idBlock = { header: d, directiveIndex: i, headerIndex: igvm.locations.directives[i]?.index ?? i };
    }
  });
  return { mask, ld, policy: policy?.type === 'GUEST_POLICY' ? policy.policy : undefined, idBlock };
}

async function loadInput(file: string, profile: ProfileRules): Promise<{ bytes: Uint8Array; state: SnpState; igvm: LazyIgvm }> {
  const bytes = await readInput(file);
  let igvm: LazyIgvm;
  try {
    igvm = await parseIgvmLazy(memorySource(bytes));
  } catch (e) {
    if (e instanceof IgvmFormatError) throw invalidFile(file, e.message);
    throw e;
  }
  return { bytes, igvm, state: await snpState(file, igvm, memorySource(bytes), profile) };
}

function keyFailure(e: unknown): unknown {
  return e instanceof KeyError ? new CliError(e.message, ExitCode.INVALID) : e;
}

export async function signCommand(file: string, options: SignOptions, streams: Streams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const modes = [options.idKey !== undefined, options.emitPayload !== undefined, options.signature !== undefined].filter(Boolean).length;
  if (modes !== 1) throw usageError('choose one of --id-key KEY.pem, --emit-payload OUT.bin, or --signature SIG.der --public-key KEY.pem');
  if (options.signature !== undefined && options.publicKey === undefined) throw usageError('--signature needs --public-key (the key that made it)');
  if (options.publicKey !== undefined && options.signature === undefined) throw usageError('--public-key goes with --signature');
  if (options.emitPayload === undefined && options.output === undefined) throw usageError('the signed file needs -o OUT.igvm');
  if (options.emitPayload !== undefined && (options.output !== undefined || options.authorKey !== undefined)) {
    throw usageError('--emit-payload writes only the payload: drop -o and --author-key');
  }
  const familyId = idBytes(options.familyId, '--family-id');
  const imageId = idBytes(options.imageId, '--image-id');
  const guestSvn = svnOf(options.guestSvn);
  const profile = resolveProfile(options);

  const { bytes, state } = await loadInput(file, profile);
  if (state.policy === undefined) {
    throw invalidFile(file, `no GUEST_POLICY applies to the SEV_SNP mask 0x${state.mask.toString(16)}: the ID block's policy comes from it`);
  }
  const old = state.idBlock?.header;
  const payload: PspIdBlock = {
    ld: state.ld,
    familyId: familyId ?? old?.familyId ?? new Uint8Array(16),
    imageId: imageId ?? old?.imageId ?? new Uint8Array(16),
    version: 1,
    guestSvn: guestSvn ?? old?.guestSvn ?? 0,
    policy: state.policy,
  };
  const payloadBytes = encodePspIdBlock(payload);
  if (options.emitPayload !== undefined) {
    await writeOutput(options.emitPayload, payloadBytes);
    streams.stdout.write(`${options.emitPayload}: SEV-SNP ID block payload (96 bytes, ld ${toHex(state.ld)}, profile ${profile.name})\n`);
    return ExitCode.OK;
  }

  let idKey: Point;
  let idSignature: { r: Uint8Array; s: Uint8Array };
  let author: { key: Point; signature: { r: Uint8Array; s: Uint8Array } } | undefined;
  try {
    if (options.idKey !== undefined) {
      const key = loadPrivateKey(await readInput(options.idKey), options.idKey);
      idKey = publicPoint(key, options.idKey);
      idSignature = signP384(key, payloadBytes);
    } else {
      const publicKey = loadPublicKey(await readInput(options.publicKey!), options.publicKey!);
      idKey = publicPoint(publicKey, options.publicKey!);
      idSignature = parseDerSignature(await readInput(options.signature!), options.signature!);
      if (!verifyP384(publicKey, payloadBytes, idSignature)) {
        throw new CliError(`${options.signature}: the signature does not verify with ${options.publicKey} over this file's ID block payload (ld ${toHex(state.ld)})`, ExitCode.INVALID);
      }
    }
    if (options.authorKey !== undefined) {
      const key = loadPrivateKey(await readInput(options.authorKey), options.authorKey);
      author = { key: publicPoint(key, options.authorKey), signature: signP384(key, sevKeyBlob(idKey)) };
    }
  } catch (e) {
    throw keyFailure(e);
  }

  const header = idBlockHeader({ mask: state.mask, payload, idKey, idSignature, ...(author ? { author } : {}) });
  const model: IgvmFile = parseIgvm(bytes);
  const directives: DirectiveHeader[] = [...model.directives];
  if (state.idBlock) directives[state.idBlock.directiveIndex] = header;
  else directives.push(header);
  await writeOutput(options.output!, serializeIgvm({ ...model, directives }));
  streams.stdout.write(`${options.output}: ${state.idBlock ? 'replaced' : 'added'} the SEV-SNP ID block (ld ${toHex(state.ld)}, profile ${profile.name}${author ? ', with author key' : ''})\n`);
  return ExitCode.OK;
}

/** Problems with the file's ID block, one line each (empty when it verifies). */
export function idBlockProblems(state: SnpState, profileName: string): string[] {
  const block = state.idBlock?.header;
  if (!block) return ['no SNP ID block applies to the SEV_SNP platform'];
  const problems: string[] = [];
  const where = `ID block (header #${state.idBlock!.headerIndex})`;
  if (toHex(block.ld) !== toHex(state.ld)) {
    problems.push(`${where}: ld ${toHex(block.ld)} differs from the launch digest ${toHex(state.ld)} (profile ${profileName})`);
  }
  if (state.policy === undefined) {
    problems.push(`${where}: no GUEST_POLICY applies to the SEV_SNP mask 0x${state.mask.toString(16)}, so the signed policy cannot be checked`);
    return problems;
  }
  if (block.idKeyAlgorithm !== ECDSA_P384_SHA384 || block.idPublicKeyCurve !== CURVE_P384) {
    problems.push(`${where}: ID key algorithm ${block.idKeyAlgorithm} / curve ${block.idPublicKeyCurve} is not ECDSA P-384 (1 / 2)`);
    return problems;
  }
  const payload = encodePspIdBlock({ ld: block.ld, familyId: block.familyId, imageId: block.imageId, version: block.version, guestSvn: block.guestSvn, policy: state.policy });
  const point = { x: fromPspField(block.idPublicKeyQx), y: fromPspField(block.idPublicKeyQy) };
  const r = fromPspField(block.idKeySignatureR);
  const s = fromPspField(block.idKeySignatureS);
  let idKey;
  try {
    idKey = point.x && point.y ? keyFromPoint({ x: point.x, y: point.y }) : undefined;
  } catch {
    idKey = undefined;
  }
  if (!idKey) {
    problems.push(`${where}: the ID public key is not a point on P-384`);
    return problems;
  }
  if (!r || !s || !verifyP384(idKey, payload, { r, s })) {
    problems.push(`${where}: the ID key signature does not verify over the block (ld, family_id, image_id, version ${block.version}, guest_svn ${block.guestSvn}, policy 0x${state.policy.toString(16)} from GUEST_POLICY)`);
  }
  if (block.authorKeyEnabled !== 0) {
    const ax = fromPspField(block.authorPublicKeyQx);
    const ay = fromPspField(block.authorPublicKeyQy);
    const ar = fromPspField(block.authorKeySignatureR);
    const as = fromPspField(block.authorKeySignatureS);
    let authorKey;
    try {
      authorKey = ax && ay && block.authorPublicKeyCurve === CURVE_P384 ? keyFromPoint({ x: ax, y: ay }) : undefined;
    } catch {
      authorKey = undefined;
    }
    if (!authorKey) problems.push(`${where}: the author public key is not a point on P-384`);
    else if (!ar || !as || !verifyP384(authorKey, sevKeyBlob({ x: point.x!, y: point.y! }), { r: ar, s: as })) {
      problems.push(`${where}: the author key signature over the ID public key does not verify`);
    }
  }
  return problems;
}

export async function verifyCommand(file: string, options: { profile?: string }, streams: Streams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const profile = resolveProfile(options);
  // Read lazily: verifying a large file does not hold it in memory.
  const state = await withInput(file, async (source) => snpState(file, await parseIgvmLazy(source), source, profile));
  const problems = idBlockProblems(state, profile.name);
  if (problems.length > 0) {
    for (const p of problems) streams.stderr.write(`${file}: ${p}\n`);
    return ExitCode.INVALID;
  }
  const author = state.idBlock!.header.authorKeyEnabled !== 0 ? '; author key signature valid' : '';
  streams.stdout.write(`${file}: ID block verified (ld equals the SEV-SNP launch digest under profile ${profile.name}; ID key signature valid${author})\n`);
  return ExitCode.OK;
}
