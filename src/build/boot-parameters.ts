/**
 * The parameter pages the project's guests read at boot: the IGVM memory map on one page and the VP
 * count on the next, each in a parameter area of its own at byte offset 0.
 *
 * Why not one area with both: QEMU 10.2 ignores MEMORY_MAP's byte_offset and writes the map from the
 * start of its area, sized by the whole area; a VP count in the same area is overwritten and a map
 * at another offset is never written. One area per parameter at offset 0 means the same thing to
 * QEMU, to the spec and to igvm-ts's loader.
 */
import type { IgvmBuilder } from '../format/index.js';

const PAGE = 4096n;

/** Byte offsets from the base GPA the guest is given (in %rsi by the project's builders). */
export const BOOT_PARAMETERS = { memoryMap: 0, vpCount: 4096 } as const;

/** Bytes the parameter pages take from their base GPA. */
export const BOOT_PARAMETERS_SIZE = 2n * PAGE;

/**
 * Add the memory-map area (one page: 170 entries) and the VP-count area, inserted at `base` and
 * `base + 4 KiB`.
 */
export function addBootParameters(b: IgvmBuilder, base: bigint): void {
  const map = b.addParameterArea(PAGE);
  b.addParameter('MEMORY_MAP', map, 0);
  b.addParameterInsert(map, base + BigInt(BOOT_PARAMETERS.memoryMap));
  const vps = b.addParameterArea(PAGE);
  b.addParameter('VP_COUNT_PARAMETER', vps, 0);
  b.addParameterInsert(vps, base + BigInt(BOOT_PARAMETERS.vpCount));
}
