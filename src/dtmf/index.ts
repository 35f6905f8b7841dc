export {
  collectDigits,
  DEFAULT_MAX_DIGITS,
  DEFAULT_TOTAL_TIMEOUT_MS,
  DigitCollector,
  digitLimits,
  DTMF_KEYS,
  MAX_DIGITS_LIMIT,
  MAX_TOTAL_TIMEOUT_MS,
  type DigitCollectorOptions,
  type DigitResult,
  type DtmfSource,
  type Timers,
} from './digit-collector.js';
export * from './tones.js';
