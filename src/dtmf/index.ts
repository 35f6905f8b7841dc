export {
  collectDigits,
  DigitCollector,
  DTMF_KEYS,
  type DigitCollectorOptions,
  type DigitResult,
  type DtmfSource,
  type Timers,
} from './digit-collector.js';
export * from './tones.js';
