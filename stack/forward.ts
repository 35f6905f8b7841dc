/** A TCP forwarder: `--listen host:port --to host:port`. Used to expose the page on localhost. */
import { createConnection, createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, to: { type: 'string' } } });
const split = (hostPort: string | undefined): [string, number] => {
  const m = /^(.+):(\d+)$/.exec(hostPort ?? '');
  if (m?.[1] === undefined || m[2] === undefined) {
    console.error('usage: forward.ts --listen <host:port> --to <host:port>');
    process.exit(2);
  }
  return [m[1], Number(m[2])];
};
const [listenHost, listenPort] = split(values.listen);
const [toHost, toPort] = split(values.to);

const server = createServer((client) => {
  const upstream = createConnection(toPort, toHost);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(listenPort, listenHost, () =>
  console.log(`forwarding ${listenHost}:${listenPort} -> ${toHost}:${toPort}`),
);
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
