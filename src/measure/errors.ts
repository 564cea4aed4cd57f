/** The measurement layer's error: a stable code, and the header it arose at (index in file order). */
export type MeasureErrorCode =
  | 'NoSuchPlatform'
  | 'UnsupportedProfile'
  | 'InvalidParameterAreaIndex'
  | 'UnmeasurablePageType'
  | 'TooLarge'
  | 'ShortRead';

export class MeasureError extends Error {
  override readonly name = 'MeasureError';
  readonly code: MeasureErrorCode;
  readonly headerIndex: number | undefined;

  constructor(code: MeasureErrorCode, detail: string, headerIndex?: number, headerType?: string) {
    super(headerIndex === undefined ? detail : `header #${headerIndex}${headerType ? ` (${headerType})` : ''}: ${detail}`);
    this.code = code;
    this.headerIndex = headerIndex;
  }
}

export interface MeasureWarning {
  readonly message: string;
  readonly headerIndex?: number;
}
