/** Launch measurement of IGVM files (browser-safe: hashing comes in through a `HashProvider`). */
export { nobleHashProvider, toHex, DIGEST_SIZE, type HashAlgorithm, type HashProvider, type Hasher } from './hash.js';
export { MeasureError, type MeasureErrorCode, type MeasureWarning } from './errors.js';
export {
  MEASURABLE_PLATFORMS,
  PROFILE_NAMES,
  profileByName,
  maskSelects,
  type MeasurablePlatform,
  type ProfileName,
  type ProfileRules,
} from './profiles.js';
export {
  measureIgvm,
  measurablePlatforms,
  platformMaskOf,
  isMeasurable,
  type Measurement,
  type MeasureOptions,
  type TraceRecord,
  type IdBlockCheck,
} from './measure.js';
export { memorySource } from './memory-source.js';
