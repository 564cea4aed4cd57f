/** A problem in an input file of a build (a kernel image, an ELF file), at a byte offset. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
  constructor(
    readonly file: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`${file}: ${detail} (at byte offset 0x${offset.toString(16)})`);
  }
}
