import { parseArgs } from 'node:util';
import { createOfflineSpeechServer } from './server.js';

const { values } = parseArgs({
  options: { host: { type: 'string' }, port: { type: 'string' } },
});
if (values.host === undefined || values.port === undefined) {
  console.error('usage: tsx stack/offline-speech/main.ts --host <ip> --port <port>');
  process.exit(2);
}
const server = createOfflineSpeechServer();
server.listen(Number(values.port), values.host, () => {
  console.log(
    `offline speech server (espeak-ng, not an AI model) listening on http://${values.host}:${values.port}`,
  );
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
