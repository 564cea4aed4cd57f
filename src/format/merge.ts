/**
 * Merging two IGVM files into one that serves the platforms of both, as the reference
 * implementation's `IgvmFile::merge` and `IgvmFile::merge_simple` do (microsoft/igvm e6c3ff1,
 * igvm/src/lib.rs `merge_internal`, `merge_dedup_directives`, `IgvmDirectiveHeader::equivalent`;
 * igvm-format.md §5.6):
 *
 * 1. the revisions must be equal (`MergeRevision`);
 * 2. the combined platform list must be valid (a platform type twice gives
 *    `MultiplePlatformHeadersWithSameIsolation`);
 * 3. each platform mask of `b` that collides with a mask in use is remapped to the lowest free bit,
 *    and every mask of `b` is rewritten through that map;
 * 4. each parameter-area index of `b` that collides with one of `a` is remapped to the lowest unused
 *    index, and the usages and inserts of that area follow it;
 * 5. the platform and initialization headers of `b` are appended;
 * 6. directives: `simple` appends those of `b`; otherwise each directive of `b`, in order, is merged
 *    into an equivalent directive of `a` (masks ORed) found at or after the insertion point, or
 *    inserted at the insertion point. The merge is stable: the relative order of the directives of
 *    each input is kept, so a directive found only in `b` can land before later directives of `a`.
 *
 * Reference quirks that are kept, so that results match the reference's byte for byte:
 * * only the platform masks of `b` that collide are added to the set of used masks, so a mask of `b`
 *   that did not collide can be handed out again to a later platform of `b` (both then share it);
 * * a mask of several bits is rewritten one bit at a time, lowest first, each step acting on the
 *   result of the previous one: with the map {1→2, 2→4}, mask 3 becomes 4 (not 6);
 * * likewise only the colliding parameter-area indices of `b` are added to the set of used indices,
 *   so a remapped index can meet an index of `b` that was kept. The reference returns such a file;
 *   here the final validation refuses it (`InvalidParameterAreaIndex`).
 * Where the reference panics (two colliding platforms of `b` on one mask, an area of `b` declared
 * twice) an IgvmFormatError is thrown instead.
 */
import { isParameterUsageType } from './constants.js';
import { hex, IgvmFormatError } from './errors.js';
import type { DirectiveHeader, IgvmFile, IgvmRevision, InitializationHeader, PlatformHeader } from './model.js';
import { modelLocator, validateFile } from './validate.js';

export interface MergeOptions {
  /**
   * Append the directives of `b` instead of merging them into equivalent directives of `a`
   * (the reference's `merge_simple`). Masks and parameter-area indices are fixed up either way.
   */
  readonly simple?: boolean;
}

// ---- equality over the model ----

/** Structural equality of model values: primitives, byte arrays (by content), arrays, plain objects. */
function deepEqual(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (x instanceof Uint8Array || y instanceof Uint8Array) {
    return x instanceof Uint8Array && y instanceof Uint8Array && sameBytes(x, y);
  }
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
    return true;
  }
  const xr = x as Record<string, unknown>;
  const yr = y as Record<string, unknown>;
  const keys = Object.keys(xr);
  if (keys.length !== Object.keys(yr).length) return false;
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(yr, k) || !deepEqual(xr[k], yr[k])) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A directive reduced to what the reference's model holds, for its derived `==`: it has no VP
 * context gpa except for SNP (VMSA) contexts, and no vp_index for VBS contexts.
 */
function referenceView(h: DirectiveHeader): unknown {
  if (h.type !== 'VP_CONTEXT') return h;
  const format = h.context.format;
  if (format === 'sev-vmsa' || format === 'raw') return h;
  if (format === 'vbs-x64' || format === 'vbs-aarch64') {
    return { type: h.type, compatibilityMask: h.compatibilityMask, context: h.context };
  }
  return { type: h.type, compatibilityMask: h.compatibilityMask, vpIndex: h.vpIndex, context: h.context };
}

/**
 * The reference's `IgvmDirectiveHeader::equivalent`: PAGE_DATA compares gpa, flags, data type and
 * the data bytes as they are (an empty zero page differs from 4096 zero bytes); REQUIRED_MEMORY
 * compares gpa, size and vtl2_protectable. The compatibility mask is ignored for these two. Every
 * other pair must be fully equal, mask included.
 */
export function equivalentDirectives(a: DirectiveHeader, b: DirectiveHeader): boolean {
  if (a.type === 'PAGE_DATA' && b.type === 'PAGE_DATA') {
    return (
      a.gpa === b.gpa &&
      a.dataType === b.dataType &&
      a.flags.is2mbPage === b.flags.is2mbPage &&
      a.flags.unmeasured === b.flags.unmeasured &&
      a.flags.shared === b.flags.shared &&
      a.flags.reserved === b.flags.reserved &&
      sameBytes(a.data, b.data)
    );
  }
  if (a.type === 'REQUIRED_MEMORY' && b.type === 'REQUIRED_MEMORY') {
    return a.gpa === b.gpa && a.numberOfBytes === b.numberOfBytes && a.vtl2Protectable === b.vtl2Protectable;
  }
  if (a.type !== b.type) return false;
  return deepEqual(referenceView(a), referenceView(b));
}

// ---- copying (the inputs stay untouched; byte arrays are shared) ----

function copyValue(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(copyValue);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = copyValue(x);
  return out;
}

function copy<T extends object>(v: T): T {
  return copyValue(v) as T;
}

// ---- the merge ----

function sameRevision(a: IgvmRevision, b: IgvmRevision): boolean {
  if (a.formatVersion === 1 || b.formatVersion === 1) return a.formatVersion === b.formatVersion;
  return a.architecture === b.architecture && a.pageSize === b.pageSize;
}

function describeRevision(r: IgvmRevision): string {
  return r.formatVersion === 1 ? 'V1' : `V2 (${r.architecture}, page size ${r.pageSize})`;
}

function trailingOnes(v: number): number {
  let n = 0;
  while (n < 32 && ((v >>> n) & 1) === 1) n++;
  return n;
}

/** The old-mask → new-mask map for the platforms of `b` (the reference's `fixup_masks_map`). */
function platformMaskMap(a: readonly PlatformHeader[], b: readonly PlatformHeader[]): Map<number, number> {
  let used = a.reduce((m, p) => (m | p.compatibilityMask) >>> 0, 0);
  const map = new Map<number, number>();
  const owner = new Map<number, PlatformHeader>();
  for (const p of b) {
    if ((p.compatibilityMask & used) === 0) continue;
    const freeBit = trailingOnes(used);
    if (freeBit >= 32) {
      throw new IgvmFormatError('NoFreeCompatibilityMasks', `no free compatibility mask bit for platform ${p.platformType}`, {
        headerType: 'merge',
      });
    }
    const newMask = (1 << freeBit) >>> 0;
    used = (used | newMask) >>> 0;
    const earlier = owner.get(p.compatibilityMask);
    if (earlier) {
      // The reference asserts here (its map insert must be new).
      throw new IgvmFormatError(
        'InvalidModel',
        `platforms ${earlier.platformType} and ${p.platformType} of the second file share mask ${hex(p.compatibilityMask)}, and it needs remapping`,
        { headerType: 'merge' },
      );
    }
    owner.set(p.compatibilityMask, p);
    map.set(p.compatibilityMask, newMask);
  }
  return map;
}

/** The reference's `fixup_mask`: the bits of `mask` that are map keys, lowest first, one at a time. */
function remapMask(mask: number, map: ReadonlyMap<number, number>, keyBits: number): number {
  let result = mask >>> 0;
  let toFix = (result & keyBits) >>> 0;
  while (toFix !== 0) {
    const oldBit = (toFix & -toFix) >>> 0;
    const newMask = map.get(oldBit);
    if (newMask === undefined) throw new Error(`merge: no mapping for mask bit ${hex(oldBit)}`); // keys are single bits
    result = ((result & ~oldBit) | newMask) >>> 0;
    toFix = (toFix & ~oldBit) >>> 0;
  }
  return result;
}

function lowestUnused(used: ReadonlySet<number>): number {
  let i = 0;
  while (used.has(i)) i++;
  return i;
}

/**
 * Fix up the (copied) directives of `b` in place: masks through the platform map, colliding
 * parameter-area indices to the lowest unused index, with their usages and inserts following.
 */
function fixDirectives(aDirectives: readonly DirectiveHeader[], bDirectives: DirectiveHeader[], remap: (mask: number) => number): void {
  const used = new Set<number>();
  for (const h of aDirectives) if (h.type === 'PARAMETER_AREA') used.add(h.parameterAreaIndex);
  const indexMap = new Map<number, number>();
  bDirectives.forEach((h, i) => {
    if ('compatibilityMask' in h) h.compatibilityMask = remap(h.compatibilityMask);
    if (h.type === 'PARAMETER_AREA') {
      if (!used.has(h.parameterAreaIndex)) return;
      if (indexMap.has(h.parameterAreaIndex)) {
        throw new IgvmFormatError('InvalidParameterAreaIndex', `parameter area ${h.parameterAreaIndex} of the second file is declared twice`, {
          headerType: `b.directives[${i}] (PARAMETER_AREA)`,
        });
      }
      const index = lowestUnused(used);
      used.add(index);
      indexMap.set(h.parameterAreaIndex, index);
      h.parameterAreaIndex = index;
    } else if ((h.type === 'PARAMETER_INSERT' || isParameterUsageType(h.type)) && 'parameterAreaIndex' in h) {
      const to = indexMap.get(h.parameterAreaIndex);
      if (to !== undefined) h.parameterAreaIndex = to;
    }
  });
}

function orMaskInto(target: DirectiveHeader, other: DirectiveHeader): void {
  if ('compatibilityMask' in target && 'compatibilityMask' in other) {
    target.compatibilityMask = (target.compatibilityMask | other.compatibilityMask) >>> 0;
  }
}

/** Bucket key of the directives an `equivalent` search has to look at. */
function equivalenceKey(h: DirectiveHeader): string {
  return h.type === 'PAGE_DATA' || h.type === 'REQUIRED_MEMORY' ? `${h.type}@${h.gpa}` : h.type;
}

/**
 * The reference's `merge_dedup_directives`. Its search window `self[insert_index..]` only ever
 * holds directives of `a` (those of `b` are inserted before the window), so the window is tracked
 * as a position `next` in `a`, with the misses of `b` gathered before each directive of `a`; the
 * backward search (last equivalent directive at or after `next`) runs over per-key index lists.
 */
function dedupDirectives(a: DirectiveHeader[], b: readonly DirectiveHeader[]): DirectiveHeader[] {
  const positions = new Map<string, number[]>();
  a.forEach((h, i) => {
    const key = equivalenceKey(h);
    const list = positions.get(key);
    if (list) list.push(i);
    else positions.set(key, [i]);
  });
  /** `before[i]`: directives of `b` inserted just before a[i]; `before[a.length]`: at the end. */
  const before: DirectiveHeader[][] = Array.from({ length: a.length + 1 }, () => []);
  let next = 0;
  for (const h of b) {
    const list = positions.get(equivalenceKey(h)) ?? [];
    let hit = -1;
    for (let k = list.length - 1; k >= 0; k--) {
      const j = list[k]!;
      if (j < next) break;
      if (equivalentDirectives(a[j]!, h)) {
        hit = j;
        break;
      }
    }
    if (hit >= 0) {
      orMaskInto(a[hit]!, h);
      next = hit + 1;
    } else {
      before[next]!.push(h);
    }
  }
  const out: DirectiveHeader[] = [];
  for (let i = 0; i <= a.length; i++) {
    out.push(...before[i]!);
    if (i < a.length) out.push(a[i]!);
  }
  return out;
}

/**
 * Merge `b` into a copy of `a` (the reference's `a.merge(b)`, or `a.merge_simple(b)` with
 * `{ simple: true }`). The inputs are not modified; payload byte arrays are shared with the result.
 * The result is validated as `IgvmFile::new` would validate it.
 */
export function mergeIgvm(a: IgvmFile, b: IgvmFile, options: MergeOptions = {}): IgvmFile {
  if (!sameRevision(a.revision, b.revision)) {
    throw new IgvmFormatError(
      'MergeRevision',
      `cannot merge a ${describeRevision(b.revision)} file into a ${describeRevision(a.revision)} file`,
      { headerType: 'merge' },
    );
  }

  const aPlatforms = a.platforms.length;
  const combined: IgvmFile = { revision: a.revision, platforms: [...a.platforms, ...b.platforms], initializations: [], directives: [] };
  validateFile(combined, (_section, i) => ({
    headerType: i < aPlatforms ? `a.platforms[${i}] (SUPPORTED_PLATFORM)` : `b.platforms[${i - aPlatforms}] (SUPPORTED_PLATFORM)`,
  }));

  const maskMap = platformMaskMap(a.platforms, b.platforms);
  let keyBits = 0;
  for (const k of maskMap.keys()) keyBits = (keyBits | k) >>> 0;
  const remap = (mask: number): number => remapMask(mask, maskMap, keyBits);

  const bPlatforms = b.platforms.map((p) => ({ ...copy(p), compatibilityMask: remap(p.compatibilityMask) }));
  const bInitializations = b.initializations.map((h): InitializationHeader => {
    const c = copy(h);
    c.compatibilityMask = remap(c.compatibilityMask);
    return c;
  });
  const aDirectives = a.directives.map(copy);
  const bDirectives = b.directives.map(copy);
  fixDirectives(a.directives, bDirectives, remap);

  const result: IgvmFile = {
    revision: copy(a.revision),
    platforms: [...a.platforms.map(copy), ...bPlatforms],
    initializations: [...a.initializations.map(copy), ...bInitializations],
    directives: options.simple === true ? [...aDirectives, ...bDirectives] : dedupDirectives(aDirectives, bDirectives),
  };
  validateFile(result, modelLocator(result));
  return result;
}
