export {
  createParticipantToken,
  type ParticipantToken,
  type ParticipantTokenRequest,
} from './participant-token.js';
