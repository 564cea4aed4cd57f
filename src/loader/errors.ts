/** Errors of loading an IGVM file into a machine: a stable code, and the header that caused it. */

export type LoadErrorCode =
  | 'NoNativePlatform'
  | 'NonRamRegion'
  | 'RegionSizeExceeded'
  | 'InvalidPageData'
  | 'UnknownParameterArea'
  | 'ParameterAreaInserted'
  | 'ParameterOutOfBounds'
  | 'MemoryMapTooSmall'
  | 'MadtTooSmall'
  | 'CommandLineTooLong'
  | 'UnsupportedParameter'
  | 'VpContextNotBsp'
  | 'VpContextGpa'
  | 'VpContextFormat'
  | 'InvalidContext'
  | 'UnsupportedHeader';

export class LoadError extends Error {
  override readonly name = 'LoadError';
  constructor(
    readonly code: LoadErrorCode,
    detail: string,
    readonly headerIndex?: number,
    readonly headerType?: string,
  ) {
    super(headerIndex === undefined ? detail : `header #${headerIndex}${headerType ? ` (${headerType})` : ''}: ${detail}`);
  }
}
