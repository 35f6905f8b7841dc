export * from './caller/index.js';
export * from './call-records/index.js';
export * from './config/index.js';
export * from './conversation/greeting.js';
export * from './dispatch/index.js';
export * from './errors/index.js';
export * from './livekit/preflight.js';
export * from './models/index.js';
