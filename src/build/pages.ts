/** Page-granular guest memory contents under construction: page GPA -> 4 KiB of bytes. */

const PAGE = 4096n;

export type Pages = Map<bigint, Uint8Array>;

/**
 * Copy `bytes` to `gpa` in `pages`, covering `length` bytes (bytes past `bytes.length` are zeros,
 * as for an ELF segment's bss). Pages are created as needed; existing contents are overwritten.
 */
export function putBytes(pages: Pages, gpa: bigint, bytes: Uint8Array, length: bigint): void {
  for (let done = 0n; done < length; ) {
    const at = gpa + done;
    const page = at - (at % PAGE);
    let buf = pages.get(page);
    if (!buf) {
      buf = new Uint8Array(4096);
      pages.set(page, buf);
    }
    const within = Number(at - page);
    const n = Number(length - done < PAGE - BigInt(within) ? length - done : PAGE - BigInt(within));
    const start = Number(done);
    if (start < bytes.length) buf.set(bytes.subarray(start, Math.min(bytes.length, start + n)), within);
    done += BigInt(n);
  }
}

/** The page GPAs in ascending order. */
export function sortedPages(pages: Pages): bigint[] {
  return [...pages.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
