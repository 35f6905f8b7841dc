export { createSpeechModels, type SpeechModels } from './speech-models.js';
export { ReconnectingSTT } from './reconnecting-stt.js';
