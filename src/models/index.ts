export { createSpeechModels, type SpeechModels } from './speech-models.js';
